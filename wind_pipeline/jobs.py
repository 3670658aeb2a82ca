"""Jobs: the daily ETL, and the bootstrap that provisions the Source and Target."""

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema

wind_etl_job = dg.define_asset_job(
    name="wind_etl_job",
    selection=[wind_10min_aggregates],
    description="Aggregate one UTC day (a partition) of wind speed and power into the Target.",
)

bootstrap_job = dg.define_asset_job(
    name="bootstrap_job",
    selection=[source_seed, target_schema],
    description="Seed the Source database and create the Target schema.",
)
