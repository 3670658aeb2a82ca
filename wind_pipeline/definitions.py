"""The code location: every Dagster definition of wind_pipeline, assembled in one place."""

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.assets.live_source import source_live_readings
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema
from wind_pipeline.checks import all_asset_checks
from wind_pipeline.jobs import bootstrap_job, source_live_job, wind_etl_job
from wind_pipeline.resources import ConektorClient, SourceDatabase, TargetDatabase
from wind_pipeline.schedules import source_live_schedule, wind_etl_daily_schedule
from wind_pipeline.sensors import wind_late_data_sensor

defs = dg.Definitions(
    # The mode (WIND_LIVE, wind_pipeline/mode.py) shapes the partitions and which schedules and
    # sensor start RUNNING; the same definitions exist in both modes.
    assets=[source_seed, source_live_readings, target_schema, wind_10min_aggregates],
    asset_checks=all_asset_checks,
    jobs=[wind_etl_job, bootstrap_job, source_live_job],
    schedules=[wind_etl_daily_schedule, source_live_schedule],
    sensors=[wind_late_data_sensor],
    # Runs are a few small steps (the aggregates' checks even share the asset's step): running
    # them in the run's own process saves re-importing the code location for every step.
    # Isolation between runs comes from the run launcher (a process locally, a container in
    # the Compose deployment).
    executor=dg.in_process_executor,
    resources={
        "source_db": SourceDatabase(url=dg.EnvVar("WIND_SOURCE_DB_URL")),
        "conektor": ConektorClient(base_url=dg.EnvVar("WIND_API_URL")),
        "target_db": TargetDatabase(url=dg.EnvVar("WIND_TARGET_DB_URL")),
    },
)
