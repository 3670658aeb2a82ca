"""Dagster resources: the Source database, the Conektor API client and the Target database.

Each URL field is optional: left empty, it is read from `WIND_SOURCE_DB_URL`,
`WIND_API_URL` or `WIND_TARGET_DB_URL` (or `.env`, or the local stack's defaults) when a run
starts. Engines and clients are made per run and closed after it; importing connects nothing.
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
    """The Source PostgreSQL database (used only to seed it; readers go through the API)."""

    def _configured_url(self) -> str:
        return load_settings().source_db_url


class TargetDatabase(_DatabaseResource):
    """The Target PostgreSQL database where the 10-minute aggregates are written."""

    def _configured_url(self) -> str:
        return load_settings().target_db_url


class ConektorClient(dg.ConfigurableResource):
    """An httpx client for the Conektor API: pooled per run, retries connection errors and 5xx."""

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
