"""The daily partitions of the aggregates, and the one conversion between partition keys and days."""

from collections.abc import Iterable
from datetime import date

import dagster as dg

from wind_pipeline.domain import FIRST_PARTITION_DAY

# No end date: the newest partition is the last complete UTC day (yesterday), so a source
# seeded up to today is picked up by the schedule day after day.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION_DAY.isoformat(), timezone="UTC"
)


def partition_key(day: date) -> str:
    """The partition key of a UTC day: `2024-01-05`."""
    return day.isoformat()


def partition_day(key: str) -> date:
    """The UTC day of a partition key."""
    return date.fromisoformat(key)


def partition_days(keys: Iterable[str]) -> list[date]:
    """The UTC days of partition keys, sorted."""
    return sorted(partition_day(key) for key in keys)
