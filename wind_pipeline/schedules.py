"""The daily schedule: at 00:30 UTC, aggregate the UTC day that just ended.

Catch-up after downtime (Dagster 1.13's scheduler daemon): a schedule built from a partitioned
asset job has no partition set, so when the daemon comes back it evaluates only the *latest*
missed tick. Down for less than a day: the missed day runs on restart. Down for longer: only
the newest missed day runs; the earlier ones stay missing until a backfill (UI: the asset's
*Partitions* tab, select the missing days) or the late-data sensor, which requests every day
of its lookback window that is complete in the Source and was never aggregated.
The scheduler never launches ticks from before the schedule was switched on.
"""

import dagster as dg

from wind_pipeline.jobs import wind_etl_job

# A partitioned job's schedule asks for the latest complete partition at each tick:
# the 2024-01-06 00:30 tick runs partition 2024-01-05.
wind_etl_daily_schedule = dg.build_schedule_from_partitioned_job(
    wind_etl_job,
    name="wind_etl_daily_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    description=(
        "Every day at 00:30 UTC, run wind_etl_job for the previous UTC day. After downtime "
        "only the latest missed day runs; backfill or the late-data sensor covers the rest."
    ),
)
