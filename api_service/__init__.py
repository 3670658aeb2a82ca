"""The Conektor: a FastAPI service that is the only way to read the Source database."""
