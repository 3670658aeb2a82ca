"""The daily partitions of the aggregates: UTC days from the start of the seeded period."""

import dagster as dg

from wind_pipeline.source_data import FIRST_PARTITION_DAY

# No end date: the newest partition is the last complete UTC day (yesterday), so a source
# seeded up to today is picked up by the schedule day after day.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION_DAY.isoformat(), timezone="UTC"
)
