"""The facts of the domain every part agrees on: variables, signals, buckets, days, the period.

Production code (the ETL, the checks, the partitions) and the synthetic-data generator read
them from here; nothing here reads a database or the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

# The Source table's measured variables, and the two the ETL aggregates.
SOURCE_VARIABLES = ("wind_speed", "power", "ambient_temperature")
AGGREGATED_VARIABLES = ("wind_speed", "power")
STATISTICS = ("mean", "min", "max", "std")
# The eight signals: wind_speed_mean, wind_speed_min, ..., power_std.
SIGNAL_NAMES = tuple(f"{var}_{stat}" for var in AGGREGATED_VARIABLES for stat in STATISTICS)

MINUTES_PER_DAY = 1440
BUCKET_MINUTES = 10
BUCKET = timedelta(minutes=BUCKET_MINUTES)
BUCKETS_PER_DAY = MINUTES_PER_DAY // BUCKET_MINUTES
ROWS_PER_DAY = BUCKETS_PER_DAY * len(SIGNAL_NAMES)

# The default seeded period (2024-01-01T00:00Z .. 2024-01-10T23:59Z); partitions start with it.
DEFAULT_PERIOD_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_PERIOD_DAYS = 10
FIRST_PARTITION_DAY: date = DEFAULT_PERIOD_START.date()
# The design card's last day (2024-01-10): fixed mode's partitions end with the seeded period.
FIXED_LAST_DAY: date = FIRST_PARTITION_DAY + timedelta(days=DEFAULT_PERIOD_DAYS - 1)


@dataclass(frozen=True)
class PowerCurve:
    """A 2 MW turbine's power curve: cubic from cut-in to rated speed, flat to cut-out."""

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


@dataclass(frozen=True)
class PlausibleRange:
    """The closed interval [low, high] of physically possible values of a variable."""

    low: float
    high: float
    unit: str


_RATED_POWER_KW = PowerCurve().rated_power

# Why these bounds: a cup anemometer cannot read below 0 m/s, and 75 m/s is above any
# 10-minute wind a turbine site records (IEC class I: 50 m/s reference gust, 70 m/s 3-second
# gust). A turbine draws a little power when idle (down to -10 % of rated) and the converter
# caps output near rated; 150 % of rated is far beyond any real reading.
PLAUSIBLE_RANGES: Mapping[str, PlausibleRange] = {
    "wind_speed": PlausibleRange(0.0, 75.0, "m/s"),
    "power": PlausibleRange(-0.1 * _RATED_POWER_KW, 1.5 * _RATED_POWER_KW, "kW"),
}


@dataclass(frozen=True)
class SourcePeriod:
    """What the Source holds: its first and last timestamps and its row count."""

    first: datetime | None
    last: datetime | None
    row_count: int

    def describe(self) -> str:
        if self.first is None or self.last is None:
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
