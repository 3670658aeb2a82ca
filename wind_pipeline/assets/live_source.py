"""`source_live_readings`: live mode's feed, which keeps the Source current one reading a minute.

Each run appends the minutes the Source lacks from its newest reading (or, on the first run,
from 00:00 UTC `fill_days` days ago) up to the current minute, computed by the same turbine
model as `source_seed` (`turbine_model.readings_between`: a minute's values depend only on
its day and the seed, so runs that overlap write identical rows and ON CONFLICT keeps one).
The feed's first minute (`live_since`) is kept in its materialization metadata: after a
re-seed (which empties the table) the next run refills the whole live period with the same
values, so the aggregated days stay unchanged. A gap inside the period stays a gap: the feed
continues after the newest reading, it never overwrites or back-fills a late correction.
"""

from datetime import UTC, datetime, time, timedelta

import dagster as dg
from pydantic import Field

from wind_pipeline.assets.source import source_seed
from wind_pipeline.mode import LIVE, OFF_MESSAGE
from wind_pipeline.resources import SourceDatabase
from wind_pipeline.source_data import (
    DEFAULT_RANDOM_SEED,
    append_readings,
    last_reading,
    source_period,
)
from wind_pipeline.turbine_model import readings_between

LIVE_SINCE = "live_since"
MINUTE = timedelta(minutes=1)


class LiveFeedConfig(dg.Config):
    """How far back the feed's first run fills the Source, and the generator's seed."""

    fill_days: int = Field(
        default=3, ge=0, le=366, description="Fill from 00:00 UTC this many days before today."
    )
    random_seed: int = Field(default=DEFAULT_RANDOM_SEED, description="Seed of the generator.")


def live_since(previous: dg.EventLogEntry | None, now: datetime, fill_days: int) -> datetime:
    """The live period's first minute: the one recorded by the previous run, or `fill_days` back."""
    floor = datetime.combine(now.date() - timedelta(days=fill_days), time(), UTC)
    recorded = previous.asset_materialization.metadata.get(LIVE_SINCE) if previous else None
    if recorded is None:
        return floor
    return min(floor, datetime.fromisoformat(str(recorded.value)))


def build_source_live_readings(live: bool) -> dg.AssetsDefinition:
    """The feed asset for the given mode (fixed mode: materializing it fails with one line)."""

    @dg.asset(
        name="source_live_readings",
        deps=[source_seed],
        group_name="source",
        kinds={"postgres", "numpy"},
        owners=["team:data-engineering"],
        tags={"layer": "source"},
        metadata={"dagster/table_name": "data"},
    )
    def source_live_readings(
        context: dg.AssetExecutionContext, config: LiveFeedConfig, source_db: SourceDatabase
    ) -> dg.MaterializeResult:
        """Live mode's feed: the Source's missing one-minute readings, appended up to now."""
        if not live:
            raise dg.Failure(description=OFF_MESSAGE, allow_retries=False)
        now = datetime.now(UTC)
        end = now.replace(second=0, microsecond=0) + MINUTE  # the current minute included
        previous = context.instance.get_latest_materialization_event(context.asset_key)
        since = live_since(previous, now, config.fill_days)
        engine = source_db.engine
        newest = last_reading(engine, since, end)
        start = since if newest is None else newest + MINUTE
        added = append_readings(engine, readings_between(start, end, config.random_seed))
        period = source_period(engine)
        context.log.info(
            f"appended {added:,} reading(s) from {start:%Y-%m-%dT%H:%MZ}; {period.describe()}"
        )
        return dg.MaterializeResult(
            metadata={
                "rows_added": added,
                LIVE_SINCE: since.isoformat(),
                "newest_reading": period.last.isoformat() if period.last else None,
                "dagster/row_count": period.row_count,
            }
        )

    return source_live_readings


source_live_readings = build_source_live_readings(LIVE)
