"""Load: replace a window's rows of the eight signals in the Target, atomically, with COPY."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg2.errorcodes import LOCK_NOT_AVAILABLE
from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy.exc import OperationalError

from wind_pipeline.pg_copy import ColumnType, copy_frame
from wind_pipeline.target_models import Data

TARGET_COLUMNS: list[tuple[str, ColumnType]] = [
    ("signal_id", "int4"),
    ("timestamp", "timestamptz"),
    ("value", "float8"),
]

# Advisory-lock namespace for "a day of wind_10min_aggregates" (the key's second half is the day).
_LOCK_NAMESPACE = 0x57494E44


# How long a load waits for another run writing the same days, and how often it looks up from
# the wait (so Ctrl-C and Dagster's Terminate stop it within a fraction of a second).
LOCK_WAIT_SECONDS = 60.0
LOCK_POLL_MS = 200


class TargetSchemaMissing(RuntimeError):
    """The Target has no signal table or misses signals: `target_schema` has not run."""


class TargetBusy(RuntimeError):
    """Another session held the run's days for longer than the load waits; nothing was written."""


def replace_window(
    engine: Engine,
    aggregates: pd.DataFrame,
    start: datetime,
    end: datetime,
    signal_ids: dict[str, int],
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
) -> int:
    """Delete the signals' rows in [start, end) and insert `aggregates`, in one transaction.

    Readers see the old day or the new day, never a mix; a failure leaves the old rows.
    Runs for the same day serialize on an advisory lock, so concurrent runs converge.
    """
    # One hash lookup a row into the few signal names (faster than Series.map(dict)).
    positions = pd.Index(list(signal_ids)).get_indexer(aggregates["signal"])
    if (positions < 0).any():
        unknown = set(aggregates["signal"][positions < 0])
        raise TargetSchemaMissing(
            f"signals {sorted(unknown)} are not in the Target's signal table; "
            "materialize target_schema first"
        )
    rows = pd.DataFrame(
        {
            "signal_id": np.array(list(signal_ids.values()), dtype=np.int64)[positions],
            "timestamp": aggregates["timestamp"],
            "value": aggregates["value"],
        }
    )

    first_day, last_day = _epoch_day(start), _epoch_day(end) - 1
    with engine.begin() as conn:
        _lock_days(conn, first_day, last_day, lock_wait_seconds)
        conn.execute(
            delete(Data).where(
                Data.signal_id.in_(list(signal_ids.values())),
                Data.timestamp >= start,
                Data.timestamp < end,
            )
        )
        _fault_point("after_delete")
        # Binary COPY built by numpy; a NaN value (a one-sample std) is written as NULL.
        copy_frame(conn.connection.dbapi_connection.cursor(), "data", rows, TARGET_COLUMNS)
        _fault_point("before_commit")
    _fault_point("after_commit")
    return len(rows)


def _lock_days(conn: Connection, first_day: int, last_day: int, wait_seconds: float) -> None:
    """Take the days' advisory locks (in day order) for this transaction, waiting at most
    `wait_seconds` for another run to release them, in short interruptible waits."""
    lock = select(
        func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.generate_series(first_day, last_day))
    )
    conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_POLL_MS}"))
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            # A failed attempt rolls back to the savepoint, releasing the locks it took.
            with conn.begin_nested():
                conn.execute(lock)
            return
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
                raise
            if time.monotonic() >= deadline:
                raise TargetBusy(
                    f"another session has been writing these days for over {wait_seconds:.0f} s "
                    "(another run of the same days, or a session holding their lock); "
                    "nothing was written; try again later"
                ) from None


def _epoch_day(moment: datetime) -> int:
    return int(moment.timestamp() // 86400)


# Test-only fault injection (docs/RELIABILITY.md): with WIND_FAULT_PAUSE set to one of
# FAULT_POINTS, the loader writes its pid to WIND_FAULT_READY_FILE at that point and waits
# until `<ready file>.release` exists (at most 120 s), so a test can kill it, cut its
# connection or race it at exactly that point. Unset (always, outside tests) it does nothing.
FAULT_PAUSE_ENV = "WIND_FAULT_PAUSE"
FAULT_READY_FILE_ENV = "WIND_FAULT_READY_FILE"
FAULT_POINTS = ("after_delete", "before_commit", "after_commit")


def _fault_point(name: str) -> None:
    if os.environ.get(FAULT_PAUSE_ENV) != name:
        return
    ready = Path(os.environ[FAULT_READY_FILE_ENV])
    release = ready.with_name(ready.name + ".release")
    ready.write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
