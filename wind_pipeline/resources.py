"""Dagster resources: the Source database, the Conektor API client and the Target database,
and the schedule on which the aggregates asset retries transient faults.

`definitions.py` configures each URL with `dg.EnvVar(...)`, so the UI shows which variable a
value comes from; engines and clients are made per run and closed after it.

Transient faults are retried at two levels, which compose:

1. `ConektorClient` retries each HTTP request that fails with a connection error, a timeout,
   a truncated body or a 5xx: `max_attempts` tries with jittered exponential backoff.
2. If a request still fails, or a database is unreachable, the asset asks Dagster to run the
   step again on `TRANSIENT_FAULT_RETRY_POLICY`'s schedule (3 more attempts after about 5, 15
   and 35 s). Re-running a step is safe: it replaces its days in one transaction.

A 4xx, a validation error, an empty source day or a missing target schema fails at once, and
an interrupted step (Terminate, Ctrl-C) is never retried. docs/operations.md has the details.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine

from wind_pipeline.db import make_engine
from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.settings import ConfigurationError, check_http_url, check_postgres_url

TRANSIENT_FAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=5.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def _checked(name: str, value: str, check) -> str:
    """`value` stripped, or a one-line error naming the setting (never quoting the value)."""
    try:
        check(value)
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {name}: {exc}") from None
    return value.strip()


class _DatabaseResource(dg.ConfigurableResource):
    # The variable `definitions.py` reads the URL from, named in error messages.
    ENV_VAR: ClassVar[str]
    url: str = Field(description="SQLAlchemy URL of the database (postgresql+psycopg2://...).")
    _engine: Engine | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[_DatabaseResource]:
        self._engine = make_engine(_checked(self.ENV_VAR, self.url, check_postgres_url))
        try:
            yield self
        finally:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError(f"{type(self).__name__} is used outside a run")
        return self._engine


class SourceDatabase(_DatabaseResource):
    """The Source PostgreSQL database: written by `source_seed` and live mode's feed
    `source_live_readings`, and read by their checks only.

    The ETL never reads it directly; it goes through the Conektor API.
    """

    ENV_VAR: ClassVar[str] = "WIND_SOURCE_DB_URL"


class TargetDatabase(_DatabaseResource):
    """The Target PostgreSQL database: tables `signal` and `data`, holding the 10-minute aggregates."""

    ENV_VAR: ClassVar[str] = "WIND_TARGET_DB_URL"


class ConektorClient(dg.ConfigurableResource):
    """An httpx client for the Conektor API (the only reader of the Source database).

    Pooled per run; retries connection errors, timeouts and 5xx with exponential backoff and
    jitter; never retries a 4xx.
    """

    base_url: str = Field(description="The Conektor API's base URL, e.g. http://127.0.0.1:8765.")
    timeout_seconds: float = Field(default=30.0, description="Read timeout per request.")
    max_attempts: int = Field(default=4, description="Tries per request, first one included.")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles, jittered.")
    _session: ConektorSession | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ConektorClient]:
        self._session = ConektorSession(
            _checked("WIND_API_URL", self.base_url, check_http_url).rstrip("/"),
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
        )
        try:
            yield self
        finally:
            self._session.close()
            self._session = None

    @property
    def session(self) -> ConektorSession:
        if self._session is None:
            raise RuntimeError("ConektorClient is used outside a run")
        return self._session
