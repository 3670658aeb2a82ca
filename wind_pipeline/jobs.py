"""Jobs: the daily ETL, the bootstrap that provisions the Source and Target, and the live feed.

Selecting an asset selects its asset checks too, so every run of these jobs also checks
what it wrote.
"""

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.assets.live_source import source_live_readings
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema

wind_etl_job = dg.define_asset_job(
    name="wind_etl_job",
    selection=[wind_10min_aggregates],
    description=(
        "Aggregate UTC days (partitions) of wind speed and power into the Target, then check "
        "each day (complete, consistent, matches the Source, Source coverage). A range of days "
        "is one run."
    ),
    tags={"wind_pipeline/job": "etl"},
)

bootstrap_job = dg.define_asset_job(
    name="bootstrap_job",
    selection=[source_seed, target_schema],
    description=(
        "Seed the Source database and create the Target schema, then check both "
        "(the configured period, one row a minute, the eight signals)."
    ),
    tags={"wind_pipeline/job": "bootstrap"},
)

source_live_job = dg.define_asset_job(
    name="source_live_job",
    selection=[source_live_readings],
    description=(
        "Live mode's feed: append the Source's newest one-minute readings (a run a minute, "
        "from source_live_schedule)."
    ),
    tags={"wind_pipeline/job": "live_feed"},
)
