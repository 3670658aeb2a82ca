"""What the Source holds for each UTC day of a run: minutes present, usable values, fingerprint.

One implementation shared by the aggregates asset (recorded in each partition's metadata), its
asset checks and the late-data sensor, so all three describe a day in the same terms. A value
is *unusable* when the ETL's bad-value policy skips it (NULL, NaN, infinite, out of range), so
the counts here and the materialization's `values/...` counts always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from wind_pipeline.domain import AGGREGATED_VARIABLES, MINUTES_PER_DAY
from wind_pipeline.etl.days import NS_PER_MINUTE, DayIndex, day_start, epoch_ns
from wind_pipeline.etl.transform import classify_values


@dataclass(frozen=True)
class DayCoverage:
    """The Source's rows for one UTC day, as the ETL sees them."""

    day: date
    minutes_present: int
    # Values the aggregation skips (NULL, NaN, infinite, out of range), per variable.
    unusable: dict[str, int] = field(default_factory=dict)
    missing_ranges: tuple[tuple[datetime, datetime], ...] = ()
    fingerprint: str = ""

    @property
    def minutes_missing(self) -> int:
        return MINUTES_PER_DAY - self.minutes_present

    @property
    def complete(self) -> bool:
        return self.minutes_present == MINUTES_PER_DAY

    @property
    def fully_usable(self) -> bool:
        return self.complete and not any(self.unusable.values())

    @property
    def percent_present(self) -> float:
        return round(100.0 * self.minutes_present / MINUTES_PER_DAY, 2)


def fingerprint(frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES) -> str:
    """A hash of a day's rows (timestamps and the aggregated variables' values).

    It changes when a row is added, removed or changed, and is the same however the rows were
    fetched (one day or several days in one request), so the sensor and the asset agree.
    """
    digest = hashlib.sha256()
    stamps = pd.DatetimeIndex(frame["timestamp"]).as_unit("s").asi8
    digest.update(np.ascontiguousarray(stamps, dtype="<i8").tobytes())
    for name in variables:
        values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        # NaN has many bit patterns; hash a mask and zeros instead of the raw bits.
        digest.update(name.encode())
        digest.update(missing.tobytes())
        digest.update(np.where(missing, 0.0, values).astype("<f8").tobytes())
    return digest.hexdigest()[:20]


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where `mask` is true."""
    padded = np.zeros(len(mask) + 2, dtype=bool)
    padded[1:-1] = mask
    # Where the padded mask flips: run starts and ends alternate.
    edges = np.flatnonzero(padded[1:] != padded[:-1]).tolist()
    return list(zip(edges[::2], edges[1::2], strict=True))


def slot_gaps(
    start: datetime, present: np.ndarray, step: timedelta
) -> tuple[tuple[datetime, datetime], ...]:
    """Runs of absent slots (`present[i]` False for the slot at start + i * step) as (first, last).

    The same runs `time_runs` finds in the absent slots' times, from one boolean row of a grid.
    """
    return tuple(
        (start + step * first, start + step * (end - 1)) for first, end in mask_runs(~present)
    )


def unusable_values(values: np.ndarray, variable: str) -> np.ndarray:
    """Which of a variable's values the ETL skips (the bad-value policy of `transform`)."""
    finite, below, above = classify_values(values, variable)
    return ~finite | below | above


def profile_days(
    frame: pd.DataFrame,
    index: DayIndex,
    variables: Sequence[str] = AGGREGATED_VARIABLES,
    fingerprints: bool = False,
) -> list[DayCoverage]:
    """The coverage of each day of `index` (built from `frame`'s timestamps), in one pass.

    With `fingerprints`, each day's rows are also hashed (the asset and the sensor need it; the
    checks do not). Rows of other days are ignored.
    """
    inside = index.position >= 0
    positions = index.position[inside]
    stamps = epoch_ns(frame["timestamp"])[inside]
    count = len(index.days)

    values = frame[list(variables)].to_numpy(dtype="float64", na_value=np.nan)[inside]
    unusable = [
        np.bincount(positions, weights=unusable_values(values[:, i], name), minlength=count)
        for i, name in enumerate(variables)
    ]
    # Days x minutes: which whole minutes have a row (a 12:00:30 row counts for 12:00).
    grid = np.zeros((count, MINUTES_PER_DAY), dtype=bool)
    grid[positions, (stamps // NS_PER_MINUTE) % MINUTES_PER_DAY] = True
    whole = grid.all(axis=1)
    minutes_present = grid.sum(axis=1)

    return [
        DayCoverage(
            day=day,
            minutes_present=int(minutes_present[i]),
            unusable={name: int(unusable[v][i]) for v, name in enumerate(variables)},
            missing_ranges=(
                () if whole[i] else slot_gaps(day_start(day), grid[i], timedelta(minutes=1))
            ),
            fingerprint=(
                fingerprint(frame.iloc[index.rows_of(i)], variables) if fingerprints else ""
            ),
        )
        for i, day in enumerate(index.days)
    ]


def describe_ranges(ranges: Sequence[tuple[datetime, datetime]], limit: int = 5) -> str:
    """`10:00-10:59, 13:05` (times of day, UTC), at most `limit` runs then `(+N more)`."""
    parts = [
        f"{first:%H:%M}" if first == last else f"{first:%H:%M}-{last:%H:%M}"
        for first, last in ranges[:limit]
    ]
    if len(ranges) > limit:
        parts.append(f"(+{len(ranges) - limit} more)")
    return ", ".join(parts)
