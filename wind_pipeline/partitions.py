"""The daily partitions of the aggregates: UTC days from the start of the seeded period."""

import dagster as dg

PARTITIONS_START = "2024-01-01"

# end_offset=0: the newest partition is the last complete UTC day (yesterday).
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
