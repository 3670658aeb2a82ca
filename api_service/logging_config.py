"""The Conektor's logging: uvicorn's lines with a time, to stderr or to a rotating file.

One handler takes every record (uvicorn's error and access logs, `api_service`, warnings),
so a file is rotated by one owner: `api.log` is renamed `api.log.1` when it would pass
`max_bytes`, and at most `backups` old files are kept.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.logging import AccessFormatter, DefaultFormatter

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5


class ApiLogFormatter(logging.Formatter):
    """uvicorn's formats with a time: access lines, uvicorn's own lines, and the rest by name."""

    def __init__(self) -> None:
        super().__init__()
        self.access = AccessFormatter(
            '%(asctime)s %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            use_colors=False,
        )
        self.server = DefaultFormatter("%(asctime)s %(levelprefix)s %(message)s", use_colors=False)
        self.named = DefaultFormatter(
            "%(asctime)s %(levelprefix)s %(name)s: %(message)s", use_colors=False
        )

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "uvicorn.access":
            return self.access.format(record)
        return (self.server if record.name.startswith("uvicorn") else self.named).format(record)


def log_config(
    log_file: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    level: str = "INFO",
) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the API process: a rotating file, or stderr."""
    if log_file:
        handler: dict[str, Any] = {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": log_file,
            "maxBytes": max_bytes,
            "backupCount": backups,
            "encoding": "utf-8",
        }
    else:
        handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["api"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"api": {"()": ApiLogFormatter}},
        "handlers": {"api": {**handler, "formatter": "api"}},
        "loggers": {
            "uvicorn": logger,
            "uvicorn.error": {"level": level.upper()},  # through "uvicorn"
            "uvicorn.access": logger,
            "api_service": logger,
        },
        "root": {"handlers": ["api"], "level": "WARNING"},
    }
