"""Dagster's event log in PostgreSQL, over a small pool of kept-open connections.

Upstream limitation worked around: `dagster_postgres.PostgresEventLogStorage` builds its engine
with SQLAlchemy's `NullPool`, so it opens a new PostgreSQL connection for every event it stores
and a run process pays a connection start-up per event. A single-run backfill of a year
records 365 materializations and 4 x 365 check verdicts: on the 2-core benchmark machine that
connection churn alone was about 14 s of a 24 s no-op run (benchmarks/RESULTS.md). This class
is the same storage, tables and config with one change: each process keeps one connection open
(plus a few overflow ones for threaded callers such as the daemon). A connection that sat idle
is checked before use, so a restarted server costs a reconnect, not an error; one in steady use
(events a few milliseconds apart) is not, since a check per event would cost a round trip per
event again.

Dagster itself does the same for its webserver (`optimize_for_webserver`), which still
replaces this engine with its own there. It lives in `wind_stack` (deployment code, not the
code location): the local instance's dagster.yaml and the Compose one name it.

In dagster.yaml:

    event_log_storage:
      module: wind_stack.dagster_storage
      class: PooledPostgresEventLogStorage
      config:
        postgres_url: postgresql://...    # or postgres_db: {...}, as for dagster_postgres
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

POOL_SIZE = 1
POOL_OVERFLOW = 4
# A kept-open connection idle longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "wind_idle_since"


def _mark_idle(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        # The pool drops this connection and checks out a new one.
        raise sa.exc.DisconnectionError(str(exc)) from exc


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """`PostgresEventLogStorage` with a pooled engine: one connection per process, kept open.

    Works around upstream's per-event connection (`PostgresEventLogStorage` uses `NullPool`).
    """

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(
            postgres_url,
            should_autocreate_tables=should_autocreate_tables,
            inst_data=inst_data,
            token_provider=token_provider,
        )
        unpooled = self._engine
        self._engine = create_pg_engine(
            self.postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            # Below the usual idle timeouts of proxies and managed servers.
            pool_recycle=600,
        )
        sa.event.listen(self._engine, "checkin", _mark_idle)
        sa.event.listen(self._engine, "checkout", _ping_if_idle)
        unpooled.dispose()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def dispose(self) -> None:
        super().dispose()
        # Close the kept-open connections with the instance, not at interpreter exit.
        self._engine.dispose()
