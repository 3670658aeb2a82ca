"""The whole ETL for one or more UTC days, shared by the Dagster asset and `wind-etl`."""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from wind_pipeline.domain import AGGREGATED_VARIABLES
from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.etl.coverage import DayCoverage, profile_days
from wind_pipeline.etl.days import DayIndex, window_of
from wind_pipeline.etl.load import TargetSchemaMissing, replace_window
from wind_pipeline.etl.transform import QualityCounts, aggregate_cleaned, clean_values_grouped
from wind_pipeline.target_models import signal_ids

__all__ = ["DayResult", "EmptySourceDay", "EtlResult", "run_etl"]


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


@dataclass(frozen=True)
class EtlResult:
    """What a run read and wrote: per-day results, the Source rows and the aggregates, each
    with its index by day (built once, in `run_etl`)."""

    start: datetime
    end: datetime
    days: list[DayResult]
    source: pd.DataFrame
    source_index: DayIndex
    aggregates: pd.DataFrame
    aggregates_index: DayIndex

    @property
    def source_rows(self) -> int:
        return sum(d.source_rows for d in self.days)

    @property
    def rows_written(self) -> int:
        return sum(d.rows_written for d in self.days)

    def aggregates_for(self, i: int) -> pd.DataFrame:
        """The long rows (timestamp, signal, value) written for the run's i-th day."""
        return self.aggregates.iloc[self.aggregates_index.rows_of(i)]


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
    start, end = window_of(days)
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
    # The run's rows grouped by day once; everything below reuses this index.
    index = DayIndex.of(frame["timestamp"], days)
    empty = index.empty_days()
    if empty:
        listed = ", ".join(d.isoformat() for d in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise EmptySourceDay(
            f"no source data for {listed}: {session.coverage().describe()}; target left unchanged"
        )
    coverages = profile_days(frame, index, fingerprints=True)

    # The bad-value policy over the whole run in one pass, counted per day.
    source, quality = clean_values_grouped(frame, index.position, len(days))
    aggregates = aggregate_cleaned(source)
    replace_window(target, aggregates, start, end, ids)

    written = DayIndex.of(aggregates["timestamp"], days)
    shares = [call.share(int(rows)) for rows in index.rows_per_day]
    return EtlResult(
        start=start,
        end=end,
        days=[
            DayResult(
                day,
                int(index.rows_per_day[i]),
                int(written.rows_per_day[i]),
                coverage=coverages[i],
                api_seconds=shares[i][0],
                api_bytes=shares[i][1],
                api_requests=call.requests,
                api_call_days=call.days,
                quality=quality[i],
            )
            for i, day in enumerate(days)
        ],
        source=frame,
        source_index=index,
        aggregates=aggregates,
        aggregates_index=written,
    )
