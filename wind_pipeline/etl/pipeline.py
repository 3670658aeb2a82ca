"""The whole ETL for one or more UTC days, shared by the Dagster asset and `wind-etl`."""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from wind_pipeline.etl.coverage import (
    MINUTES_PER_DAY,
    NO_ROWS,
    DayCoverage,
    day_positions,
    day_start,
    fingerprint,
    positions_by_day,
    profile_days,
    split_days,
)
from wind_pipeline.etl.extract import ConektorSession
from wind_pipeline.etl.load import TargetSchemaMissing, replace_window
from wind_pipeline.etl.transform import QualityCounts, aggregate_cleaned, clean_values_grouped
from wind_pipeline.target_models import AGGREGATED_VARIABLES, signal_ids

__all__ = [
    "MINUTES_PER_DAY",
    "DayResult",
    "EmptySourceDay",
    "EtlResult",
    "day_start",
    "days_between",
    "run_etl",
]


class EmptySourceDay(RuntimeError):
    """The API returned no rows for a requested day; the target was left untouched."""


@dataclass(frozen=True)
class DayResult:
    """What one day of a run read and wrote (a partition's materialization metadata)."""

    day: date
    source_rows: int
    rows_written: int
    coverage: DayCoverage | None = None
    api_seconds: float = 0.0
    api_bytes: int = 0
    # The API call that carried this day: its requests (pages) and how many days it carried.
    api_requests: int = 0
    api_call_days: int = 1
    quality: QualityCounts | None = None


@dataclass(frozen=True)
class ApiCall:
    """One paged `/data` call of a run: its cost, shared among the days it carried."""

    seconds: float
    bytes: int
    requests: int
    days: int
    rows: int

    def share(self, rows: int) -> tuple[float, int]:
        """The (seconds, bytes) of a day with `rows` of the call's rows, in proportion."""
        fraction = rows / self.rows if self.rows else 1.0 / self.days
        return self.seconds * fraction, round(self.bytes * fraction)


@dataclass
class EtlResult:
    start: datetime
    end: datetime
    days: list[DayResult] = field(default_factory=list)
    aggregates: pd.DataFrame | None = None
    # The Source rows the run read, as the API sent them (before the bad-value policy).
    source: pd.DataFrame | None = None
    # `aggregates_for`'s index: the frame it was built from, and each day's row positions.
    _day_index: tuple[pd.DataFrame, dict[date, np.ndarray]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def source_rows(self) -> int:
        return sum(d.source_rows for d in self.days)

    @property
    def rows_written(self) -> int:
        return sum(d.rows_written for d in self.days)

    def aggregates_for(self, day: date) -> pd.DataFrame:
        """The long rows (timestamp, signal, value) written for one day."""
        if self.aggregates is None:
            raise ValueError("this result holds no aggregates")
        # Group the rows by day once, not a mask over the whole run a day: a backfill asks
        # for every day of the run, which made the masks O(days x rows).
        if self._day_index is None or self._day_index[0] is not self.aggregates:
            self._day_index = (self.aggregates, positions_by_day(self.aggregates["timestamp"]))
        return self.aggregates.iloc[self._day_index[1].get(day, NO_ROWS)]


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days in [start, end), which must be whole days."""
    count = (end - start) // timedelta(days=1)
    return [start.date() + timedelta(days=i) for i in range(count)]


def run_etl(session: ConektorSession, target: Engine, days: list[date]) -> EtlResult:
    """Extract the run's window (one paged API call), aggregate, and replace those days in one
    transaction.

    All-or-nothing for the whole list: if any day has no source data, nothing is written.
    Each day's result carries its own coverage and its share of the API call's cost, for
    per-partition metadata.
    """
    if not days:
        raise ValueError("no days to process")
    days = sorted(days)
    if days != [days[0] + timedelta(days=i) for i in range(len(days))]:
        raise ValueError("days must be consecutive")
    ids = signal_ids(target)
    if len(ids) < 8:
        raise TargetSchemaMissing(
            "the Target has no signal table or misses signals; materialize target_schema first"
        )

    # One call for the whole window, paged by the API (a year is a few pages), instead of a
    # request a day: per-request overhead on both sides was most of a backfill's read time.
    start, end = day_start(days[0]), day_start(days[-1] + timedelta(days=1))
    before = (session.stats.requests, session.stats.bytes)
    started = clock.perf_counter()
    frame = session.fetch_window(start, end, AGGREGATED_VARIABLES)
    call = ApiCall(
        seconds=clock.perf_counter() - started,
        bytes=session.stats.bytes - before[1],
        requests=session.stats.requests - before[0],
        days=len(days),
        rows=len(frame),
    )
    day_of_row = day_positions(frame["timestamp"], days)
    rows_read = np.bincount(day_of_row[day_of_row >= 0], minlength=len(days))
    empty = [day for day, rows in zip(days, rows_read, strict=True) if not rows]
    if empty:
        listed = ", ".join(d.isoformat() for d in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise EmptySourceDay(
            f"no source data for {listed}: {session.coverage().describe()}; target left unchanged"
        )
    coverages = profile_days(frame, days)
    fingerprints = {day: fingerprint(rows) for day, rows in split_days(frame, days).items()}
    fetched = [
        (day, replace(coverage, fingerprint=fingerprints[day]), *call.share(int(rows)))
        for day, coverage, rows in zip(days, coverages, rows_read, strict=True)
    ]

    # The bad-value policy (README, "Aggregation semantics") over the whole run in one pass,
    # counted per fetched day.
    source, quality = clean_values_grouped(frame, day_of_row, len(days))
    aggregates = aggregate_cleaned(source)
    replace_window(target, aggregates, start, end, ids)

    written = positions_by_day(aggregates["timestamp"])
    result = EtlResult(
        start=start,
        end=end,
        days=[
            DayResult(
                day,
                int(rows),
                len(written.get(day, NO_ROWS)),
                coverage=coverage,
                api_seconds=seconds,
                api_bytes=size,
                api_requests=call.requests,
                api_call_days=call.days,
                quality=counts,
            )
            for (day, coverage, seconds, size), rows, counts in zip(
                fetched, rows_read, quality, strict=True
            )
        ],
        aggregates=aggregates,
        source=frame,
    )
    # The per-partition metadata asks for each day's rows: reuse this grouping.
    result._day_index = (aggregates, written)
    return result
