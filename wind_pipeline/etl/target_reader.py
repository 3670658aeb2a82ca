"""Read the Target back for the checks: which days it holds, and a run's days of the eight
signals."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Date, Double, Engine, cast, distinct, func, select

from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.days import window_of
from wind_pipeline.target_models import Data, Signal


def target_days(engine: Engine) -> list[date]:
    """The UTC days for which the Target holds rows of the eight signals, sorted."""
    day = cast(func.timezone("UTC", Data.timestamp), Date)
    statement = (
        select(distinct(day))
        .join(Signal, Signal.id == Data.signal_id)
        .where(Signal.name.in_(SIGNAL_NAMES))
        .order_by(day)
    )
    with engine.connect() as conn:
        return list(conn.execute(statement).scalars())


def read_target_days(engine: Engine, days: Sequence[date]) -> pd.DataFrame:
    """The eight signals' rows from the first to the last day: signal, timestamp, value, is_nan.

    `is_nan` tells a stored NaN from a NULL, which pandas would both show as NaN. Read with
    COPY ... TO STDOUT and pandas' C parser (see benchmarks/RESULTS.md).
    """
    start, end = window_of(sorted(days))
    statement = (
        select(
            Signal.name.label("signal"),
            func.extract("epoch", Data.timestamp).label("epoch"),
            Data.value,
            (Data.value == cast("NaN", Double)).label("is_nan"),
        )
        .join(Signal, Signal.id == Data.signal_id)
        .where(Signal.name.in_(SIGNAL_NAMES), Data.timestamp >= start, Data.timestamp < end)
        .order_by(Data.timestamp, Signal.name)
    )
    buffer = io.BytesIO()
    with engine.connect() as conn:
        compiled = statement.compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        cursor = conn.connection.dbapi_connection.cursor()
        # The driver binds the parameters (mogrify), as it does for any query.
        query = cursor.mogrify(str(compiled), compiled.params).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        names=["signal", "epoch", "value", "is_nan"],
        dtype={"signal": "object", "epoch": "float64", "value": "float64", "is_nan": "object"},
    )
    timestamps = pd.to_datetime(frame.pop("epoch"), unit="s", utc=True).dt.as_unit("ns")
    frame.insert(1, "timestamp", timestamps)
    frame["is_nan"] = frame["is_nan"].eq("t")
    return frame
