"""The daily partitions of the aggregates, and the one conversion between partition keys and days."""

from collections.abc import Iterable
from datetime import date, timedelta

import dagster as dg

from wind_pipeline.domain import FIRST_PARTITION_DAY, FIXED_LAST_DAY
from wind_pipeline.mode import LIVE


def build_daily_partitions(live: bool) -> dg.DailyPartitionsDefinition:
    """UTC days from 2024-01-01: up to yesterday when live, else the design card's ten days."""
    # Live: no end date, so the newest partition is the last complete UTC day (yesterday) and
    # the schedule picks up a Source that grows day after day. Fixed: the UI shows 10 of 10.
    end = None if live else (FIXED_LAST_DAY + timedelta(days=1)).isoformat()  # exclusive
    return dg.DailyPartitionsDefinition(
        start_date=FIRST_PARTITION_DAY.isoformat(), end_date=end, timezone="UTC"
    )


daily_partitions = build_daily_partitions(LIVE)


def partition_key(day: date) -> str:
    """The partition key of a UTC day: `2024-01-05`."""
    return day.isoformat()


def partition_day(key: str) -> date:
    """The UTC day of a partition key."""
    return date.fromisoformat(key)


def partition_days(keys: Iterable[str]) -> list[date]:
    """The UTC days of partition keys, sorted."""
    return sorted(partition_day(key) for key in keys)


def partitioned_days(days: Iterable[date]) -> list[date]:
    """Those of `days` that are partitions (in this mode, as of now), in their order."""
    keys = set(daily_partitions.get_partition_keys())
    return [day for day in days if partition_key(day) in keys]
