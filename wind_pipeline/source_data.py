"""Synthetic turbine telemetry for the Source database, and the bulk loader that seeds it.

The data looks like a real turbine's: wind is the length of a slowly wandering 2-D wind
vector (autocorrelated, Rayleigh/Weibull-like with k ~ 2), power follows a power curve with
cut-in, rated and cut-out speeds, and the temperature has a daily cycle plus weather drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

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

DEFAULT_SEED_START = DEFAULT_PERIOD_START
DEFAULT_SEED_DAYS = DEFAULT_PERIOD_DAYS
DEFAULT_RANDOM_SEED = 42
SOURCE_COLUMNS: list[tuple[str, ColumnType]] = [
    ("timestamp", "timestamptz"),
    *((name, "float8") for name in SOURCE_VARIABLES),
]


def _ar1(rng: np.random.Generator, n: int, minutes_correlation: float) -> np.ndarray:
    """A unit-variance AR(1) series with the given correlation time, computed by pandas' EWM."""
    alpha = 1.0 / minutes_correlation
    stationary_std = np.sqrt(alpha / (2.0 - alpha))
    noise = rng.standard_normal(n)
    noise[0] *= stationary_std  # start in the stationary state, not with one raw shock
    smoothed = pd.Series(noise).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return smoothed / stationary_std


def generate_turbine_data(
    start: datetime = DEFAULT_SEED_START,
    days: int = DEFAULT_SEED_DAYS,
    random_seed: int = DEFAULT_RANDOM_SEED,
    curve: PowerCurve | None = None,
) -> pd.DataFrame:
    """One row a minute from `start` for `days` days: timestamp, wind_speed, power, ambient_temperature."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    curve = curve or PowerCurve()
    rng = np.random.default_rng(random_seed)
    n = days * MINUTES_PER_DAY
    timestamps = pd.date_range(start.astimezone(UTC), periods=n, freq="min")
    hours = timestamps.hour.to_numpy() + timestamps.minute.to_numpy() / 60.0

    # Wind vector: mean flow plus weather-scale (~6 h) and gust-scale (~10 min) wandering.
    u = 4.5 + 3.5 * _ar1(rng, n, 360) + 1.2 * _ar1(rng, n, 10)
    v = 2.0 + 3.5 * _ar1(rng, n, 360) + 1.2 * _ar1(rng, n, 10)
    diurnal = 1.0 + 0.12 * np.sin(2 * np.pi * (hours - 15.0) / 24.0)  # afternoon mixing
    wind_speed = np.hypot(u, v) * diurnal + 0.25 * np.abs(rng.standard_normal(n))

    power = curve(wind_speed) * (1.0 + 0.03 * rng.standard_normal(n))
    power = np.clip(power, 0.0, curve.rated_power)

    temperature = (
        6.0
        + 4.0 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
        + 2.5 * _ar1(rng, n, 1440)
        + 0.2 * rng.standard_normal(n)
    )
    return pd.DataFrame(
        {
            "timestamp": timestamps,
            "wind_speed": wind_speed.round(3),
            "power": power.round(2),
            "ambient_temperature": temperature.round(2),
        }
    )


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
