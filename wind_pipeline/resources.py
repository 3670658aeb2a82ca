"""Dagster resources: the Source database, the Conektor API client and the Target database,
and the retry policy for transient faults.

Each URL field is optional: left empty, it is read from `WIND_SOURCE_DB_URL`,
`WIND_API_URL` or `WIND_TARGET_DB_URL` (or `.env`, or the local stack's defaults) when a run
starts. Engines and clients are made per run and closed after it; importing connects nothing.

Transient faults are retried at two levels, which compose:

1. `ConektorClient` retries each HTTP request that fails with a connection error, a timeout,
   a truncated body or a 5xx: `max_attempts` (4) tries, waiting about 0.5, 1 and 2 s (doubling
   from `backoff_seconds`, plus up to `backoff_seconds` of jitter). That rides out a blip
   without failing the step.
2. If a request still fails (`ConektorUnavailable`), or a database is unreachable, the step
   fails and Dagster runs the whole step again under `TRANSIENT_FAULT_RETRY_POLICY`: 3 more
   attempts after about 5, 15 and 35 s (exponential, each +/- 5 s of jitter). That rides out
   a restart of the API or of a database. Re-running a step is safe: it replaces its days in
   one transaction.

So a day whose API stays down costs at most 4 x 4 = 16 requests over about a minute and a
half before the run fails. A 4xx, a validation error, an empty source day or a missing target
schema is raised as `dg.Failure(allow_retries=False)`: no retry at either level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine

from wind_pipeline.db import make_engine
from wind_pipeline.etl.extract import ConektorSession
from wind_pipeline.settings import load_settings

TRANSIENT_FAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=5.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class _DatabaseResource(dg.ConfigurableResource):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means the environment variable (see README).",
    )
    _engine: Engine | None = PrivateAttr(default=None)

    def _configured_url(self) -> str:
        raise NotImplementedError

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[_DatabaseResource]:
        self._engine = make_engine(self.url or self._configured_url())
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
    """The Source PostgreSQL database: written by `source_seed` and read by its checks only.

    The ETL never reads it directly; it goes through the Conektor API.
    """

    def _configured_url(self) -> str:
        return load_settings().source_db_url


class TargetDatabase(_DatabaseResource):
    """The Target PostgreSQL database: tables `signal` and `data`, holding the 10-minute aggregates."""

    def _configured_url(self) -> str:
        return load_settings().target_db_url


class ConektorClient(dg.ConfigurableResource):
    """An httpx client for the Conektor API (the only reader of the Source database).

    Pooled per run; retries connection errors, timeouts and 5xx with exponential backoff and
    jitter; never retries a 4xx.
    """

    base_url: str | None = Field(
        default=None, description="The API's URL; empty means WIND_API_URL (see README)."
    )
    timeout_seconds: float = Field(default=30.0, description="Read timeout per request.")
    max_attempts: int = Field(default=4, description="Tries per request, first one included.")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles, jittered.")
    _session: ConektorSession | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ConektorClient]:
        self._session = ConektorSession(
            self.base_url or load_settings().api_url,
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
