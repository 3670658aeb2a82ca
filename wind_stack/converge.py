"""The steps `make run` and `make live` share: seed and create the schema, (live: feed the
Source,) aggregate every complete day in as few runs as possible, and print a summary.
Everything is idempotent, so running it again converges on the same tables."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date

import dagster as dg
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from api_service.models import source_table
from wind_pipeline.db import make_engine
from wind_pipeline.domain import MINUTES_PER_DAY
from wind_pipeline.etl.days import consecutive_runs
from wind_pipeline.settings import ConfigurationError, load_settings, mask_passwords, redact
from wind_pipeline.source_data import source_period
from wind_pipeline.target_models import Data
from wind_stack.dagster_instance import export_run_environment
from wind_stack.dagster_runs import run_job


def complete_days(source: Engine) -> list[date]:
    """The partitions for which the Source holds all 1,440 minutes."""
    from wind_pipeline.partitions import partitioned_days

    day = func.date_trunc("day", source_table.c.timestamp, "UTC")
    query = select(day).group_by(day).having(func.count() == MINUTES_PER_DAY).order_by(day)
    with source.connect() as conn:
        days = [moment.date() for moment in conn.execute(query).scalars()]
    return partitioned_days(days)


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges: a range run fails whole on a day with no data."""
    return [(run[0], run[-1]) for run in consecutive_runs(days, longest=len(days))]


def _aggregate(instance: dg.DagsterInstance, days: list[date]) -> None:
    for first, last in day_ranges(days):
        print(f"materializing wind_10min_aggregates for {first} .. {last} (one run) ...")
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        run_job("wind_etl_job", instance, tags=tags)


def converge(prog: str, feed: Callable[[dg.DagsterInstance], None] | None = None) -> int:
    """Seed and create the schema, run `feed` (live mode), aggregate every complete day, then
    print the summary; the exit code: 0, 1 (a step failed), 2 (invalid configuration)."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    export_run_environment(settings)
    source, target = make_engine(settings.source_db_url), make_engine(settings.target_db_url)
    try:
        with dg.DagsterInstance.get() as instance:
            print("materializing source_seed and target_schema ...")
            run_job("bootstrap_job", instance)
            if feed is not None:
                feed(instance)
            days = complete_days(source)
            if not days:
                period = source_period(source).describe()
                print(f"{prog}: no complete day to aggregate ({period})", file=sys.stderr)
                return 1
            _aggregate(instance, days)
        period = source_period(source)
        with target.connect() as conn:
            day = func.date_trunc("day", Data.timestamp, "UTC")
            per_day = conn.execute(select(day, func.count()).group_by(day).order_by(day)).all()
    except (RuntimeError, SQLAlchemyError) as exc:
        print(f"{prog}: {mask_passwords(str(exc).strip().splitlines()[0])}", file=sys.stderr)
        return 1
    finally:
        source.dispose()
        target.dispose()

    print()
    print(f"Source  {redact(settings.source_db_url)}")
    print(f"        {period.describe()}")
    print(f"Target  {redact(settings.target_db_url)}")
    for bucket_day, count in per_day:
        print(f"        {bucket_day:%Y-%m-%d}  {count:>5} rows")
    print(f"        total {sum(c for _, c in per_day):,} rows in {len(per_day)} days")
    api = redact(settings.api_url)
    print(f"API     {api}  (try {api}/docs)")
    return 0
