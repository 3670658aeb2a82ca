"""wind_pipeline: the Dagster code location and the ETL it runs.

Kept import-light: the Dagster definitions live in `wind_pipeline.definitions`.
"""
