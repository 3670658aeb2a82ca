"""The Source table's synthetic telemetry: the seeded window, the bulk loader that seeds it, and
the idempotent append of the live feed. The turbine itself is `turbine_model`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects.postgresql import insert

from api_service.models import SourceBase, source_table
from wind_pipeline.domain import (
    DEFAULT_PERIOD_DAYS,
    DEFAULT_PERIOD_START,
    MINUTES_PER_DAY,
    SOURCE_VARIABLES,
    PowerCurve,
    SourcePeriod,
)
from wind_pipeline.pg_copy import ColumnType, copy_frame
from wind_pipeline.turbine_model import NOISE_STREAMS, turbine_model

DEFAULT_SEED_START = DEFAULT_PERIOD_START
DEFAULT_SEED_DAYS = DEFAULT_PERIOD_DAYS
DEFAULT_RANDOM_SEED = 42
SOURCE_COLUMNS: list[tuple[str, ColumnType]] = [
    ("timestamp", "timestamptz"),
    *((name, "float8") for name in SOURCE_VARIABLES),
]


def generate_turbine_data(
    start: datetime = DEFAULT_SEED_START,
    days: int = DEFAULT_SEED_DAYS,
    random_seed: int = DEFAULT_RANDOM_SEED,
    curve: PowerCurve | None = None,
) -> pd.DataFrame:
    """One row a minute from `start` for `days` days: timestamp, wind_speed, power, ambient_temperature."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    rng = np.random.default_rng(random_seed)
    n = days * MINUTES_PER_DAY
    timestamps = pd.date_range(start.astimezone(UTC), periods=n, freq="min")
    # One generator for the whole window, its series drawn one after the other: the design
    # card's ten days stay exactly what they always were.
    noise = np.stack([rng.standard_normal(n) for _ in range(NOISE_STREAMS)])
    return turbine_model(timestamps, noise, curve)


def create_source_table(engine: Engine) -> None:
    SourceBase.metadata.create_all(engine, tables=[source_table])


def seed_source(engine: Engine, frame: pd.DataFrame) -> int:
    """Make the Source table hold exactly `frame`, in one transaction, loaded with COPY.

    Re-seeding replaces the table's rows (never duplicates), and readers see either the old
    rows or the new ones.
    """
    create_source_table(engine)
    with engine.begin() as conn:
        # TRUNCATE would take an ACCESS EXCLUSIVE lock and block API readers; DELETE does not.
        conn.execute(text('DELETE FROM "data"'))
        return copy_frame(conn.connection.dbapi_connection.cursor(), "data", frame, SOURCE_COLUMNS)


def source_period(engine: Engine) -> SourcePeriod:
    with engine.connect() as conn:
        first, last, count = conn.execute(
            text('SELECT min(timestamp), max(timestamp), count(*) FROM "data"')
        ).one()
    return SourcePeriod(first, last, count)


def last_reading(engine: Engine, since: datetime, until: datetime) -> datetime | None:
    """The newest timestamp in [since, until), or None."""
    ts = source_table.c.timestamp
    with engine.connect() as conn:
        return conn.execute(select(func.max(ts)).where(ts >= since, ts < until)).scalar_one()


def append_readings(engine: Engine, frame: pd.DataFrame) -> int:
    """Insert `frame`'s rows whose minute the table lacks; return how many were inserted.

    A minute already there is left as it is (ON CONFLICT DO NOTHING on the primary key), so
    two feeds that overlap never duplicate a row, and a corrected row is never overwritten.
    """
    if frame.empty:
        return 0
    create_source_table(engine)
    rows = frame.assign(timestamp=frame["timestamp"].dt.to_pydatetime()).to_dict("records")
    statement = insert(source_table).on_conflict_do_nothing(index_elements=["timestamp"])
    with engine.begin() as conn:
        return len(conn.execute(statement.returning(source_table.c.timestamp), rows).all())
