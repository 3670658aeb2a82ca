"""What the Source holds for a UTC day: minutes present, usable values, and a fingerprint.

Shared by the aggregates asset (recorded in each partition's metadata), its asset checks and
the late-data sensor, so all three describe a day in the same terms. Everything is vectorised:
a day is 1,440 rows at most, and `profile_days` describes a year of days in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from wind_pipeline.etl.extract import ConektorSession
from wind_pipeline.target_models import AGGREGATED_VARIABLES

MINUTES_PER_DAY = 1440
NS_PER_DAY = 86_400 * 10**9
NS_PER_MINUTE = 60 * 10**9
EPOCH_DAY = date(1970, 1, 1)
NO_ROWS = np.array([], dtype=np.intp)
# Days read per paged `/data` call when reading several days: the API pages them (100,000
# rows a page), so a year of consecutive days is one call of a few pages.
FETCH_CHUNK_DAYS = 366


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class DayCoverage:
    """The Source's rows for one UTC day, as the ETL sees them."""

    day: date
    minutes_present: int
    # Minutes whose value is NULL, NaN or infinite, per variable (the aggregation skips them).
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


def time_runs(
    stamps: pd.DatetimeIndex, step: pd.Timedelta
) -> tuple[tuple[datetime, datetime], ...]:
    """Runs of consecutive times `step` apart, as (first, last) pairs: 10:00..10:59 is one run."""
    if stamps.empty:
        return ()
    stamps = stamps.sort_values()
    # A new run starts wherever the step from the previous time is not `step`.
    run_id = (stamps.to_series().diff() != step).cumsum().to_numpy()
    runs = pd.Series(stamps, index=run_id).groupby(level=0).agg(["first", "last"])
    return tuple(
        (first.to_pydatetime(), last.to_pydatetime()) for first, last in runs.itertuples(False)
    )


def missing_minute_ranges(
    day: date, timestamps: pd.Series
) -> tuple[tuple[datetime, datetime], ...]:
    """Runs of consecutive missing minutes in the day, as (first, last) minute pairs."""
    full = pd.date_range(day_start(day), periods=MINUTES_PER_DAY, freq="min")
    present = pd.DatetimeIndex(timestamps).floor("min")
    return time_runs(full.difference(present), pd.Timedelta(minutes=1))


def profile_day(
    day: date, frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> DayCoverage:
    """The coverage of one day's rows (`frame` holds only that day's rows)."""
    values = frame[list(variables)].to_numpy(dtype="float64", na_value=np.nan)
    unusable = (~np.isfinite(values)).sum(axis=0) if len(frame) else np.zeros(len(variables))
    return DayCoverage(
        day=day,
        # Whole minutes with a row: a 12:00:30 row beside 12:00 does not make up for 12:01.
        minutes_present=int(pd.DatetimeIndex(frame["timestamp"]).floor("min").nunique()),
        unusable={name: int(count) for name, count in zip(variables, unusable, strict=True)},
        missing_ranges=missing_minute_ranges(day, frame["timestamp"]),
        fingerprint=fingerprint(frame, variables),
    )


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


def profile_days(
    frame: pd.DataFrame, days: Sequence[date], variables: Sequence[str] = AGGREGATED_VARIABLES
) -> list[DayCoverage]:
    """`profile_day` of each of `days` (distinct) from one frame of all their rows, in one pass.

    The fingerprint is left empty: it hashes each day's rows on its own, and only the asset and
    the sensor need it. Rows of other days are ignored.
    """
    positions = day_positions(frame["timestamp"], days)
    inside = positions >= 0
    positions = positions[inside]
    stamps = epoch_ns(frame["timestamp"])[inside]
    count = len(days)

    values = frame[list(variables)].to_numpy(dtype="float64", na_value=np.nan)[inside]
    unusable = [
        np.bincount(positions, weights=~np.isfinite(values[:, i]), minlength=count)
        for i in range(len(variables))
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
        )
        for i, day in enumerate(days)
    ]


def positions_by_day(stamps: pd.Series) -> dict[date, np.ndarray]:
    """The positions of each UTC day's rows, in their order in `stamps` (days without rows are
    left out). Integer day numbers and one sort: no `date` object a row."""
    numbers = epoch_ns(stamps) // NS_PER_DAY
    order = np.argsort(numbers, kind="stable")
    days, starts = np.unique(numbers[order], return_index=True)
    # Splitting at every start leaves an empty piece before the first (starts[0] is 0).
    pieces = np.split(order, starts)[1:]
    return {
        EPOCH_DAY + timedelta(days=number): positions
        for number, positions in zip(days.tolist(), pieces, strict=True)
    }


def split_days(frame: pd.DataFrame, days: Iterable[date]) -> dict[date, pd.DataFrame]:
    """The rows of each requested UTC day (an empty frame for a day without rows)."""
    positions = positions_by_day(frame["timestamp"])
    return {day: frame.iloc[positions.get(day, NO_ROWS)].reset_index(drop=True) for day in days}


def fetch_rows(
    session: ConektorSession,
    days: Sequence[date],
    variables: Sequence[str] = AGGREGATED_VARIABLES,
    chunk_days: int = FETCH_CHUNK_DAYS,
) -> pd.DataFrame:
    """The Source rows of `days` (at least one) through the Conektor API, as one frame.

    `days` need not be consecutive: each run of consecutive days (up to `chunk_days`) is one
    paged call.
    """
    chunks: list[list[date]] = []
    for day in sorted(set(days)):
        chunk = chunks[-1] if chunks else None
        if chunk and day == chunk[-1] + timedelta(days=1) and len(chunk) < chunk_days:
            chunk.append(day)
        else:
            chunks.append([day])
    frames = [
        session.fetch_window(day_start(c[0]), day_start(c[-1] + timedelta(days=1)), variables)
        for c in chunks
    ]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def fetch_days(
    session: ConektorSession,
    days: Sequence[date],
    variables: Sequence[str] = AGGREGATED_VARIABLES,
    chunk_days: int = FETCH_CHUNK_DAYS,
) -> dict[date, pd.DataFrame]:
    """Each day's Source rows through the Conektor API (`fetch_rows`, split by day)."""
    if not days:
        return {}
    return split_days(fetch_rows(session, days, variables, chunk_days), days)


def describe_ranges(ranges: Sequence[tuple[datetime, datetime]], limit: int = 5) -> str:
    """`10:00-10:59, 13:05` (times of day, UTC), at most `limit` runs then `(+N more)`."""
    parts = [
        f"{first:%H:%M}" if first == last else f"{first:%H:%M}-{last:%H:%M}"
        for first, last in ranges[:limit]
    ]
    if len(ranges) > limit:
        parts.append(f"(+{len(ranges) - limit} more)")
    return ", ".join(parts)
