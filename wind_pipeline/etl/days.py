"""UTC day arithmetic: a day's bounds, the days of a window, and a frame's rows grouped by day.

Rows are grouped by integer day numbers (nanoseconds // one day), never a `date` object a row:
a year of one-minute rows is grouped in a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9
NS_PER_MINUTE = 60 * 10**9
EPOCH_DAY = date(1970, 1, 1)


def day_start(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days in [start, end), which must be whole days."""
    count = (end - start) // timedelta(days=1)
    return [start.date() + timedelta(days=i) for i in range(count)]


def window_of(days: Sequence[date]) -> tuple[datetime, datetime]:
    """[00:00 of the first day, 00:00 after the last day) of distinct, sorted `days`."""
    return day_start(days[0]), day_start(days[-1] + timedelta(days=1))


def consecutive_runs(days: Sequence[date], longest: int) -> list[list[date]]:
    """Distinct `days`, sorted, cut into runs of consecutive days of at most `longest` days."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        run = runs[-1] if runs else None
        if run and day == run[-1] + timedelta(days=1) and len(run) < longest:
            run.append(day)
        else:
            runs.append([day])
    return runs


def epoch_ns(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC times as integer nanoseconds since 1970, whatever unit pandas parsed them in."""
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8


def day_positions(stamps: pd.Series | pd.DatetimeIndex, days: Sequence[date]) -> np.ndarray:
    """For each time, the position of its UTC day in `days` (distinct days), or -1 if not there."""
    positions = np.full(len(stamps), -1, dtype=np.int64)
    if not days or not len(stamps):
        return positions
    numbers = np.array([(day - EPOCH_DAY).days for day in days], dtype=np.int64)
    first = int(numbers.min())
    # A lookup table over the run's span: a year is a few hundred entries.
    lookup = np.full(int(numbers.max()) - first + 1, -1, dtype=np.int64)
    lookup[numbers - first] = np.arange(len(days))
    offsets = epoch_ns(stamps) // NS_PER_DAY - first
    inside = (offsets >= 0) & (offsets < len(lookup))
    positions[inside] = lookup[offsets[inside]]
    return positions


@dataclass(frozen=True, eq=False)
class DayIndex:
    """A frame's rows grouped by the UTC days of a run, computed once and passed along.

    `position[i]` is the position in `days` of row i's day, or -1 for a row of another day.
    """

    days: tuple[date, ...]
    position: np.ndarray

    @classmethod
    def of(cls, stamps: pd.Series | pd.DatetimeIndex, days: Sequence[date]) -> DayIndex:
        return cls(tuple(days), day_positions(stamps, days))

    @cached_property
    def rows_per_day(self) -> np.ndarray:
        """How many rows each day has, in `days` order."""
        inside = self.position[self.position >= 0]
        return np.bincount(inside, minlength=len(self.days))

    @cached_property
    def _rows_of(self) -> list[np.ndarray]:
        order = np.argsort(self.position, kind="stable")
        bounds = np.searchsorted(self.position[order], np.arange(len(self.days) + 1))
        return [order[bounds[i] : bounds[i + 1]] for i in range(len(self.days))]

    def rows_of(self, i: int) -> np.ndarray:
        """The positions of day `days[i]`'s rows, in the frame's order."""
        return self._rows_of[i]

    def empty_days(self) -> list[date]:
        return [day for day, rows in zip(self.days, self.rows_per_day, strict=True) if not rows]
