"""A run's rows prepared for the aggregates' checks: what the Source supports and what the
Target holds, all days in one frame each, so every check is one vectorised pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.coverage import DayCoverage, profile_days
from wind_pipeline.etl.days import DayIndex, day_positions
from wind_pipeline.etl.transform import aggregate_10min

# Values are written by binary COPY and read back as double: equal to the last bit; the
# tolerance only absorbs rounding in a mean recomputed from the Source.
RELATIVE_TOLERANCE = 1e-9
EXAMPLES = 5

_SIGNALS = pd.CategoricalDtype(list(SIGNAL_NAMES))
_SIGNAL_NAMES = np.array(SIGNAL_NAMES, dtype=object)


def clock(stamp: pd.Timestamp) -> str:
    return f"{stamp:%H:%M}"


def examples(first: Sequence, total: int) -> str:
    """`first` (a day's first few rows of `total`) as `power_std 13:00, ...` then `(+N more)`."""
    shown = ", ".join(f"{r.signal} {clock(r.timestamp)}" for r in first[:EXAMPLES])
    return shown + (f" (+{total - EXAMPLES} more)" if total > EXAMPLES else "")


def number(value: float) -> str:
    if pd.isna(value):
        return "NULL"
    return f"{value:.6g}"


def expected_rows(source: pd.DataFrame) -> pd.DataFrame:
    """What the ETL writes for these Source rows (the production transform, not a copy)."""
    return _ns_timestamps(aggregate_10min(source))


def _ns_timestamps(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(timestamp=pd.to_datetime(rows["timestamp"], utc=True).dt.as_unit("ns"))


def _label(frame: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """The rows of the run's days, with their day's position in `days` and their signal's code.

    The code (position in SIGNAL_NAMES) joins and groups far faster than the signal's name;
    both frames hold only the eight signals (the query selects them, the transform writes them).
    """
    positions = day_positions(frame["timestamp"], days)
    inside = positions >= 0
    labelled = frame.loc[inside].reset_index(drop=True)
    labelled["day"] = positions[inside]
    labelled["code"] = pd.Categorical(labelled["signal"], dtype=_SIGNALS).codes
    return labelled


def named(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(signal=_SIGNAL_NAMES[rows["code"].to_numpy()])


def ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with their signal's name, in the order a person reads them: by time, then signal."""
    return named(rows).sort_values(["timestamp", "signal"])


def first_per_day(rows: pd.DataFrame, limit: int = EXAMPLES) -> dict[int, list]:
    """The first `limit` rows of each day (by position), as named tuples, in `rows`' order."""
    first: dict[int, list] = {}
    for row in rows.groupby("day", sort=False).head(limit).itertuples(index=False):
        first.setdefault(int(row.day), []).append(row)
    return first


@dataclass(frozen=True, eq=False)
class RunRows:
    """A run's rows, all days in one frame each, so every check is one vectorised pass.

    `expected` (what the ETL writes for the Source's rows) and `actual` (the Target's rows) carry
    `day`, the row's position in `days`, and `code`, its signal's position in SIGNAL_NAMES;
    `actual` also marks a row that repeats an earlier one (`duplicate`).
    """

    days: tuple[date, ...]
    coverages: tuple[DayCoverage, ...]
    expected: pd.DataFrame
    actual: pd.DataFrame

    @classmethod
    def of(
        cls,
        days: Sequence[date],
        source: pd.DataFrame,
        target: pd.DataFrame,
        coverages: Sequence[DayCoverage] | None = None,
        expected: pd.DataFrame | None = None,
    ) -> RunRows:
        """From distinct `days`, their Source rows and the Target's rows.

        `coverages` (the Source's days profiled) and `expected` (the aggregates of `source`) are
        computed here unless the caller already has them, as the asset does.
        """
        days = tuple(days)
        if coverages is None:
            coverages = profile_days(source, DayIndex.of(source["timestamp"], days))
        expected = expected_rows(source) if expected is None else _ns_timestamps(expected)
        actual = _label(target, days)
        actual["duplicate"] = actual.duplicated(["timestamp", "code"]).to_numpy()
        return cls(days, tuple(coverages), _label(expected, days), actual)

    @cached_property
    def compared(self) -> pd.DataFrame:
        """Expected rows outer-joined with the Target's on (timestamp, signal); see `_merge`."""
        merged = self.expected[["timestamp", "code", "value"]].merge(
            self.actual[["timestamp", "code", "value", "is_nan", "duplicate"]],
            on=["timestamp", "code"],
            how="outer",
            suffixes=("_source", "_target"),
            indicator=True,
        )
        merged["day"] = day_positions(merged["timestamp"], self.days)
        # Rows only the Source has have no Target flags: neither NaN nor repeated.
        merged["is_nan"] = merged["is_nan"].eq(True)
        merged["duplicate"] = merged["duplicate"].eq(True)
        return merged
