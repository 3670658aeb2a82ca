"""The one place where wind_pipeline reads its configuration.

Values come from the environment, then from a `.env` file in the working directory (as
Dagster's CLI does), then from the `.env` of the checkout this package is installed from (which
`make up` writes, as `KEY=${KEY:-value}` so an exported variable wins in Dagster's CLI too). So
`wind-etl` run from another folder uses its own checkout's stack, and with no stack at all it
says how to point it at one; it never guesses a server. The Dagster resources get the same
variables through `dg.EnvVar` (see `definitions.py`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def checkout_root() -> Path | None:
    """The checkout whose stack this is: `WIND_STACK_ROOT` (as for `wind-stack`), else the one
    this package runs from (an editable install), else None (an installed wheel, e.g. Compose)."""
    if os.environ.get("WIND_STACK_ROOT"):
        return Path(os.environ["WIND_STACK_ROOT"]).resolve()
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "wind_stack").is_dir() else None


def _env_files() -> tuple[Path, ...]:
    """The `.env` files read, the last one winning: the checkout's, then the working folder's."""
    root = checkout_root()
    return (*((root / ".env",) if root else ()), Path(".env"))


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


class WindSettings(BaseSettings):
    """Connection settings shared by the Dagster resources, the `wind-etl` script and the API."""

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore")

    source_db_url: str | None = Field(None, validation_alias="WIND_SOURCE_DB_URL")
    target_db_url: str | None = Field(None, validation_alias="WIND_TARGET_DB_URL")
    api_url: str | None = Field(None, validation_alias="WIND_API_URL")
    # Live mode (`make live`) or the design card's fixed ten days; see `wind_pipeline/mode.py`.
    live: bool = Field(False, validation_alias="WIND_LIVE")

    @field_validator("live", mode="before")
    @classmethod
    def _switch(cls, value: object) -> bool:
        # The code location reads the same switch (mode.py): one parser, one set of spellings.
        return value if isinstance(value, bool) else parse_switch(str(value))

    @field_validator("source_db_url", "target_db_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        # Messages never quote the value: it may hold a password.
        if value is None:
            return None
        check_postgres_url(value)
        return value.strip()

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_http_url(value)
        return value.strip().rstrip("/")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def parse_switch(value: str | None) -> bool:
    """An on/off setting: true/false, 1/0, yes/no, on/off (any case); unset or empty is false."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false (or 1/0, yes/no, on/off)")


def check_postgres_url(value: str) -> None:
    """Raise ValueError (without quoting `value`) unless it is a usable PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    if not value.strip():
        raise ValueError("empty value; expected e.g. postgresql+psycopg2://user@host:5432/database")
    try:
        url = make_url(value.strip())
    except Exception:
        raise ValueError(
            "not a database URL; expected e.g. postgresql+psycopg2://user@host:5432/database"
        ) from None
    if not url.drivername.startswith("postgresql"):
        raise ValueError(f"expected a postgresql:// URL, got {url.drivername}://")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"port {url.port} out of range")


def check_http_url(value: str) -> None:
    """Raise ValueError (without quoting `value`) unless it is a usable http(s) base URL."""
    import httpx

    if not value.strip():
        raise ValueError("empty value; expected e.g. http://127.0.0.1:8765")
    if not value.strip().startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    try:
        url = httpx.URL(value.strip())
    except Exception:
        raise ValueError("not a valid URL (check the host and the port)") from None
    if not url.host:
        raise ValueError("no host; expected e.g. http://127.0.0.1:8765")
    if url.query or url.fragment:
        raise ValueError("must be a base URL, without ?query or #fragment")


ENV_NAMES = {
    "source_db_url": "WIND_SOURCE_DB_URL",
    "target_db_url": "WIND_TARGET_DB_URL",
    "api_url": "WIND_API_URL",
    "live": "WIND_LIVE",
}


def load_settings(*needed: str) -> WindSettings:
    """Read the settings, turning a bad or missing value into one line that names the variable.

    `needed` names the fields the caller uses (all three by default); one that is set nowhere
    is an error saying how to set it, never a guessed default.
    """
    from pydantic import ValidationError

    try:
        settings = WindSettings(_env_file=_env_files())
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = ENV_NAMES.get(field, field)
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
    missing = [
        ENV_NAMES[field] for field in needed or ENV_NAMES if getattr(settings, field) is None
    ]
    if missing:
        raise ConfigurationError(f"{' and '.join(missing)} not set: {_how_to_configure()}")
    return settings


def _how_to_configure() -> str:
    root = checkout_root()
    start = (
        f"start the local stack with `make up` in {root} (it writes {root / '.env'}), or "
        if root
        else ""
    )
    return (
        start + "export the variables or put them in a .env file here (see docs/configuration.md)"
    )


def redact(url: str) -> str:
    """A URL safe to print (database or http): every form of password in it is masked."""
    return mask_passwords(url)


# `scheme://user:password@host`: the password, up to the token's last `@` (a password may hold
# an unencoded `@`), whatever the scheme.
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^\s/]*)@(?=[^@\s/?#]*(?:[/?#:\s]|$))"
)
# `?password=...` / `&password=...` (libpq's and SQLAlchemy's query form) and `password=...`
# in a libpq keyword string.
_KEYWORD_PASSWORD = re.compile(r"(?P<head>(?:^|[?&\s'\"])password=)(?P<secret>[^&\s'\"]+)", re.I)


def mask_passwords(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL password, and every string in `secrets`, replaced by ***.

    Used on any message that may carry a URL (error texts from libraries quote them).
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}***@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}***", text)


def url_secrets(url: str) -> list[str]:
    """Every password `url` holds, however it is written (to scrub it from any output)."""
    from urllib.parse import parse_qs, unquote, urlsplit

    found = [m["secret"] for m in _URL_PASSWORD.finditer(url)]
    found += [m["secret"] for m in _KEYWORD_PASSWORD.finditer(url)]
    with contextlib.suppress(Exception):
        parts = urlsplit(url)
        found += parse_qs(parts.query).get("password", [])
        if parts.password:
            found.append(parts.password)
    found += [unquote(secret) for secret in found]
    # A driver that splits `u:Sec@ret@host` at the first `@` quotes `ret@host` as the host.
    found += [part for secret in found for part in secret.split("@")]
    # A one- or two-character "password" would mask unrelated text; such a password is
    # still masked where it appears in a URL, by the patterns above.
    return sorted({secret for secret in found if len(secret) > 2}, key=len, reverse=True)


def mask_url_secrets(text: str, url: str) -> str:
    """`text` with `url`'s passwords masked wherever they appear, and any URL password."""
    return mask_passwords(text, url_secrets(url))


def settings_secrets(settings: WindSettings) -> list[str]:
    """The passwords held in the configured URLs (to scrub them from any output)."""
    urls = (settings.source_db_url, settings.target_db_url, settings.api_url)
    return sorted(
        {secret for url in urls if url for secret in url_secrets(url)}, key=len, reverse=True
    )
