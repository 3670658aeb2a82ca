"""The Conektor's configuration, from the environment (or `.env`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api_service.defaults import DEFAULT_SOURCE_DB_URL

ENV_NAMES = {
    "db_url": "WIND_API_DB_URL (or WIND_SOURCE_DB_URL)",
    "max_range_days": "WIND_API_MAX_RANGE_DAYS",
    "pool_size": "WIND_API_POOL_SIZE",
    "statement_timeout_ms": "WIND_API_STATEMENT_TIMEOUT_MS",
    "cors_origins": "WIND_API_CORS_ORIGINS",
}


class ApiConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the variable, never its value."""


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # WIND_API_DB_URL gives the API its own read-only role (`conektor_reader`, see
    # api_service/sql/reader_role.sql); without it the API uses the Source URL.
    db_url: str = Field(
        DEFAULT_SOURCE_DB_URL,
        validation_alias=AliasChoices("WIND_API_DB_URL", "WIND_SOURCE_DB_URL"),
    )
    max_range_days: int = Field(31, validation_alias="WIND_API_MAX_RANGE_DAYS", ge=1)
    # 20 + 20 overflow = 40, the size of the thread pool FastAPI runs sync routes in: a
    # request never waits for a connection (the load test measured queueing at 8 + 8).
    pool_size: int = Field(20, validation_alias="WIND_API_POOL_SIZE", ge=1)
    statement_timeout_ms: int = Field(
        30_000, validation_alias="WIND_API_STATEMENT_TIMEOUT_MS", ge=1
    )
    # CORS is off unless origins are listed (comma-separated): browsers on other origins then
    # may GET; nothing else is allowed, and credentials never are.
    cors_origins: str = Field("", validation_alias="WIND_API_CORS_ORIGINS")

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @field_validator("db_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url

        # The value may hold a password: the messages never quote it.
        try:
            url = make_url(value)
            url.port  # noqa: B018 - a malformed port only raises when read
        except Exception:
            raise ValueError("not a valid SQLAlchemy database URL") from None
        if not url.drivername.startswith("postgresql"):
            raise ValueError("expected a postgresql:// URL")
        return value


def load_api_settings() -> ApiSettings:
    """Read the settings; a bad one raises ApiConfigurationError in one line naming it."""
    try:
        return ApiSettings()
    except ValidationError as exc:
        problems = [
            f"{ENV_NAMES.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else '?'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ApiConfigurationError("invalid configuration: " + "; ".join(problems)) from None
