"""The local stack's addresses: the defaults the Conektor and the pipeline share.

Dagster-free and import-free on purpose: `api_service` must not import Dagster, and
`wind_pipeline.settings` (and `wind_stack`) can import these instead of repeating them.
"""

from __future__ import annotations

LOCAL_HOST = "127.0.0.1"
LOCAL_PG_PORT = 54329
LOCAL_API_PORT = 8765
SOURCE_DB = "wind_source"
TARGET_DB = "wind_target"  # the API never reads it; here so that every default lives once

_LOCAL_PG = f"postgresql+psycopg2://postgres@{LOCAL_HOST}:{LOCAL_PG_PORT}"
DEFAULT_SOURCE_DB_URL = f"{_LOCAL_PG}/{SOURCE_DB}"
DEFAULT_TARGET_DB_URL = f"{_LOCAL_PG}/{TARGET_DB}"
DEFAULT_API_URL = f"http://{LOCAL_HOST}:{LOCAL_API_PORT}"
