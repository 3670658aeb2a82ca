"""The late-data sensor: re-run a day whose Source rows changed, or that just became complete.

Every tick it reads, through the Conektor API, the Source's rows for the most recent days of
its period (at most `LOOKBACK_DAYS`), and for each day compares a fingerprint of those rows
with the one recorded in that partition's latest materialization:

- a day already aggregated whose rows were added, removed or changed -> run that partition;
- a day never aggregated that now has all 1,440 minutes -> run that partition.

The cursor remembers which (day, fingerprint) it has already asked for, so a day is requested
once per change: not again while its run is queued, and not in a loop if that run fails (a new
change to the Source requests it again). Off by default; on by default in live mode
(`WIND_LIVE`, wind_pipeline/mode.py), whose partitions it looks at up to yesterday.

Cost: `GET /coverage` plus one `/data` request per 7 days, every `minimum_interval_seconds`.
A per-day summary route on the API (row count and checksum computed by PostgreSQL) would make
each tick a few hundred bytes instead of the days' rows (see docs/operations.md).
"""

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.etl.coverage import DayCoverage, profile_days
from wind_pipeline.etl.days import DayIndex
from wind_pipeline.jobs import wind_etl_job
from wind_pipeline.mode import LIVE
from wind_pipeline.partitions import (
    build_daily_partitions,
    daily_partitions,
    partition_day,
    partition_key,
)
from wind_pipeline.resources import ConektorClient

LOOKBACK_DAYS = 14
TICK_SECONDS = 300
TRIGGER_TAG = "wind_pipeline/trigger"


def candidate_days(
    first: datetime,
    last: datetime,
    now: datetime,
    partitions: dg.DailyPartitionsDefinition = daily_partitions,
) -> list[date]:
    """Partition days inside the Source's period, the newest `LOOKBACK_DAYS` of them."""
    keys = partitions.get_partition_keys(current_time=now)
    if not keys:
        return []
    newest = min(last.astimezone(UTC).date(), partition_day(keys[-1]))
    oldest = max(
        first.astimezone(UTC).date(),
        partition_day(keys[0]),
        newest - timedelta(days=LOOKBACK_DAYS - 1),
    )
    return [oldest + timedelta(days=i) for i in range((newest - oldest).days + 1)]


def aggregated_fingerprint(instance: dg.DagsterInstance, day: date) -> str | None:
    """The Source fingerprint recorded by the partition's latest materialization, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=wind_10min_aggregates.key, asset_partitions=[partition_key(day)]
        ),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("source_fingerprint")
    # A materialization without a fingerprint (made before this sensor existed) counts as
    # "aggregated, state unknown": "" never equals a real fingerprint, so it is refreshed once.
    return "" if value is None else str(value.value)


def reason_to_run(coverage: DayCoverage, aggregated: str | None) -> str | None:
    if aggregated is None:
        if coverage.complete:
            return "the day is complete in the Source and has never been aggregated"
        return None
    if aggregated != coverage.fingerprint:
        return (
            f"the Source's rows changed since the day was aggregated "
            f"(now {coverage.minutes_present:,} of 1,440 minutes)"
        )
    return None


def build_late_data_sensor(live: bool) -> dg.SensorDefinition:
    """`wind_late_data_sensor` for the given mode: its partitions, and on by default when live."""
    partitions = build_daily_partitions(live)

    @dg.sensor(
        name="wind_late_data_sensor",
        job=wind_etl_job,
        minimum_interval_seconds=TICK_SECONDS,
        # Live mode runs it by itself: a late row in an aggregated day is caught within 5 minutes.
        default_status=dg.DefaultSensorStatus.RUNNING if live else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Every {TICK_SECONDS // 60} minutes, read the Source's newest {LOOKBACK_DAYS} days through "
            "the Conektor API and run wind_etl_job for each day whose rows changed since it was "
            "aggregated, or that became complete (1,440 minutes) and was never aggregated."
        ),
    )
    def wind_late_data_sensor(
        context: dg.SensorEvaluationContext, conektor: ConektorClient
    ) -> dg.SensorResult:
        """Request exactly the partitions whose Source rows are newer than their aggregates."""
        requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        period = conektor.session.coverage()
        if period.first is None or period.last is None:
            return dg.SensorResult(skip_reason="the Source holds no data", cursor=context.cursor)
        days = candidate_days(period.first, period.last, datetime.now(UTC), partitions)
        if not days:
            return dg.SensorResult(
                skip_reason=f"no partition lies in the Source's period ({period.describe()})",
                cursor=context.cursor,
            )

        rows = conektor.session.fetch_days(days)
        coverages = profile_days(rows, DayIndex.of(rows["timestamp"], days), fingerprints=True)
        run_requests, remembered = [], {}
        for day, coverage in zip(days, coverages, strict=True):
            key = partition_key(day)
            reason = reason_to_run(coverage, aggregated_fingerprint(context.instance, day))
            if reason and requested.get(key) != coverage.fingerprint:
                context.log.info(f"{key}: {reason}")
                run_requests.append(
                    dg.RunRequest(
                        partition_key=key,
                        tags={
                            TRIGGER_TAG: "late_data",
                            "wind_pipeline/source_fingerprint": coverage.fingerprint,
                        },
                    )
                )
                remembered[key] = coverage.fingerprint
            elif key in requested:
                remembered[key] = requested[key]
        # Only the lookback window is remembered, so the cursor stays small.
        cursor = json.dumps(remembered, sort_keys=True)
        if not run_requests:
            return dg.SensorResult(
                skip_reason=f"{len(days)} day(s) from {days[0]} to {days[-1]} are up to date",
                cursor=cursor,
            )
        return dg.SensorResult(run_requests=run_requests, cursor=cursor)

    return wind_late_data_sensor


wind_late_data_sensor = build_late_data_sensor(LIVE)
