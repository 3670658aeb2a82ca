"""The schedules: the daily ETL at 00:30 UTC for the UTC day that just ended, and live mode's feed.

Catch-up after downtime (Dagster 1.13's scheduler daemon): a schedule without a partition set
(these have none) is evaluated only at its *latest* missed tick when the daemon comes back.
Down for less than a day: the missed day runs on restart. Down for longer: only the newest
missed day runs; the earlier ones stay missing until a backfill (UI: the asset's *Partitions*
tab, select the missing days) or the late-data sensor, which requests every day of its
lookback window that is complete in the Source and was never aggregated.
The scheduler never launches ticks from before the schedule was switched on.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from wind_pipeline.domain import FIRST_PARTITION_DAY
from wind_pipeline.jobs import source_live_job, wind_etl_job
from wind_pipeline.mode import LIVE, OFF_MESSAGE
from wind_pipeline.partitions import FIXED_LAST_DAY, partition_key
from wind_pipeline.sensors import TRIGGER_TAG


def default_status(live: bool) -> dg.DefaultScheduleStatus:
    """Live mode runs by itself; fixed mode waits to be switched on."""
    return dg.DefaultScheduleStatus.RUNNING if live else dg.DefaultScheduleStatus.STOPPED


def daily_request(tick: datetime, live: bool) -> dg.RunRequest | dg.SkipReason:
    """The 00:30 tick's run: the UTC day before the tick, if it is a partition."""
    day = tick.astimezone(UTC).date() - timedelta(days=1)
    if day < FIRST_PARTITION_DAY:
        return dg.SkipReason(f"{day} is before the first partition, {FIRST_PARTITION_DAY}")
    if not live and day > FIXED_LAST_DAY:
        # Dagster's build_schedule_from_partitioned_job would re-run the last partition every
        # night instead: say why nothing runs, and how to get a Source that keeps growing.
        return dg.SkipReason(
            f"{day} is not a partition: the Source's data ends {FIXED_LAST_DAY} (fixed mode); "
            "`make live` keeps it current"
        )
    return dg.RunRequest(partition_key=partition_key(day), tags={TRIGGER_TAG: "schedule"})


def build_daily_schedule(live: bool) -> dg.ScheduleDefinition:
    """`wind_etl_daily_schedule` for the given mode."""

    @dg.schedule(
        name="wind_etl_daily_schedule",
        job=wind_etl_job,
        cron_schedule="30 0 * * *",
        execution_timezone="UTC",
        default_status=default_status(live),
        description=(
            "Every day at 00:30 UTC, run wind_etl_job for the previous UTC day. After downtime "
            "only the latest missed day runs; backfill or the late-data sensor covers the rest. "
            + (
                "Live mode: on by default."
                if live
                else f"Fixed mode: skips after {FIXED_LAST_DAY}."
            )
        ),
    )
    def wind_etl_daily_schedule(context: dg.ScheduleEvaluationContext):
        """Request the partition of the UTC day that just ended."""
        return daily_request(context.scheduled_execution_time or datetime.now(UTC), live)

    return wind_etl_daily_schedule


def build_live_feed_schedule(live: bool) -> dg.ScheduleDefinition:
    """`source_live_schedule` for the given mode: a feed run every minute when live."""

    @dg.schedule(
        name="source_live_schedule",
        job=source_live_job,
        cron_schedule="* * * * *",
        execution_timezone="UTC",
        default_status=default_status(live),
        description=(
            "Live mode: every minute, append the Source's newest one-minute reading(s) "
            "(source_live_readings). Fixed mode: each tick skips."
        ),
    )
    def source_live_schedule(context: dg.ScheduleEvaluationContext):
        """Keep the Source current: one feed run a minute, tagged so the run list can hide them."""
        if not live:
            return dg.SkipReason(OFF_MESSAGE)
        return dg.RunRequest(tags={TRIGGER_TAG: "live_feed"})

    return source_live_schedule


wind_etl_daily_schedule = build_daily_schedule(LIVE)
source_live_schedule = build_live_feed_schedule(LIVE)
