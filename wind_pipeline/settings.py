"""The one place where wind_pipeline reads its configuration.

Values come from the environment, then from a `.env` file in the working directory (which
`make up` writes), then from defaults that match the local embedded stack's defaults.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SOURCE_DB_URL = "postgresql+psycopg2://postgres@127.0.0.1:54329/wind_source"
DEFAULT_TARGET_DB_URL = "postgresql+psycopg2://postgres@127.0.0.1:54329/wind_target"
DEFAULT_API_URL = "http://127.0.0.1:8765"


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


class WindSettings(BaseSettings):
    """Connection settings shared by the Dagster resources, the `wind-etl` script and the API."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    source_db_url: str = Field(DEFAULT_SOURCE_DB_URL, validation_alias="WIND_SOURCE_DB_URL")
    target_db_url: str = Field(DEFAULT_TARGET_DB_URL, validation_alias="WIND_TARGET_DB_URL")
    api_url: str = Field(DEFAULT_API_URL, validation_alias="WIND_API_URL")

    @field_validator("source_db_url", "target_db_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(value)
        except Exception as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        if not url.drivername.startswith("postgresql"):
            raise ValueError(f"expected a postgresql:// URL, got {url.drivername}://")
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")


ENV_NAMES = {
    "source_db_url": "WIND_SOURCE_DB_URL",
    "target_db_url": "WIND_TARGET_DB_URL",
    "api_url": "WIND_API_URL",
}


def load_settings() -> WindSettings:
    """Read the settings, turning a validation error into one line that names the variable."""
    from pydantic import ValidationError

    try:
        return WindSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = ENV_NAMES.get(field, field)
            problems.append(f"{name}: {err['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


def redact(url: str) -> str:
    """A database URL safe to print: the password, if any, is masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
