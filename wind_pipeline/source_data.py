"""Synthetic turbine telemetry for the Source database, and the bulk loader that seeds it.

The data looks like a real turbine's: wind is the length of a slowly wandering 2-D wind
vector (autocorrelated, Rayleigh/Weibull-like with k ~ 2), power follows a power curve with
cut-in, rated and cut-out speeds, and the temperature has a daily cycle plus weather drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from api_service.models import SourceBase, source_table
from wind_pipeline.pg_copy import ColumnType, copy_frame

DEFAULT_SEED_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_SEED_DAYS = 10
DEFAULT_RANDOM_SEED = 42
SOURCE_COLUMNS: list[tuple[str, ColumnType]] = [
    ("timestamp", "timestamptz"),
    ("wind_speed", "float8"),
    ("power", "float8"),
    ("ambient_temperature", "float8"),
]
# The daily partitions start with the default seeded period.
FIRST_PARTITION_DAY = DEFAULT_SEED_START.date()


@dataclass(frozen=True)
class PowerCurve:
    cut_in: float = 3.0  # m/s
    rated_speed: float = 12.0  # m/s
    cut_out: float = 25.0  # m/s
    rated_power: float = 2000.0  # kW

    def __call__(self, wind_speed: np.ndarray) -> np.ndarray:
        cubic = (wind_speed**3 - self.cut_in**3) / (self.rated_speed**3 - self.cut_in**3)
        fraction = np.where(
            wind_speed < self.cut_in,
            0.0,
            np.where(
                wind_speed < self.rated_speed, cubic, np.where(wind_speed < self.cut_out, 1.0, 0.0)
            ),
        )
        return self.rated_power * fraction


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
    n = days * 1440
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


@dataclass(frozen=True)
class SourcePeriod:
    first: datetime | None
    last: datetime | None
    row_count: int

    def describe(self) -> str:
        if self.first is None:
            return "the source holds no data"
        return (
            f"the source holds {self.row_count:,} rows from {self.first:%Y-%m-%dT%H:%MZ} "
            f"to {self.last:%Y-%m-%dT%H:%MZ}"
        )

    def full_days(self) -> list[datetime]:
        """UTC days whose whole [00:00, 24:00) lies inside the source's period."""
        if self.first is None or self.last is None:
            return []
        first_day = self.first.replace(hour=0, minute=0, second=0, microsecond=0)
        if first_day < self.first:
            first_day += timedelta(days=1)
        days = []
        day = first_day
        while day + timedelta(days=1) - timedelta(minutes=1) <= self.last:
            days.append(day)
            day += timedelta(days=1)
        return days


def source_period(engine: Engine) -> SourcePeriod:
    with engine.connect() as conn:
        first, last, count = conn.execute(
            text('SELECT min(timestamp), max(timestamp), count(*) FROM "data"')
        ).one()
    return SourcePeriod(first, last, count)
