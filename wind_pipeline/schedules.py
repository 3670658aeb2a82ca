"""The daily schedule: at 00:30 UTC, aggregate the UTC day that just ended."""

import dagster as dg

from wind_pipeline.jobs import wind_etl_job

# A partitioned job's schedule asks for the latest complete partition at each tick:
# the 2024-01-06 00:30 tick runs partition 2024-01-05.
wind_etl_daily_schedule = dg.build_schedule_from_partitioned_job(
    wind_etl_job,
    name="wind_etl_daily_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    description="Every day at 00:30 UTC, run wind_etl_job for the previous UTC day.",
)
