"""The Conektor's configuration, from the environment (or `.env`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SOURCE_DB_URL = "postgresql+psycopg2://postgres@127.0.0.1:54329/wind_source"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # WIND_API_DB_URL gives the API its own read-only role (`conektor_reader`, see
    # api_service/sql/reader_role.sql); without it the API uses the Source URL.
    db_url: str = Field(
        DEFAULT_SOURCE_DB_URL,
        validation_alias=AliasChoices("WIND_API_DB_URL", "WIND_SOURCE_DB_URL"),
    )
    max_range_days: int = Field(31, validation_alias="WIND_API_MAX_RANGE_DAYS", ge=1)
    pool_size: int = Field(8, validation_alias="WIND_API_POOL_SIZE", ge=1)
    statement_timeout_ms: int = Field(
        30_000, validation_alias="WIND_API_STATEMENT_TIMEOUT_MS", ge=1
    )
