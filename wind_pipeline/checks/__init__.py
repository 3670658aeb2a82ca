"""Asset checks: is each day of the Target complete and consistent, and are the Source and the
Target schema what the pipeline expects? They run with every materialization of their asset
and can be run on their own from the UI (*Checks* tab, *Execute*).

The aggregates' checks are declared on their asset (`aggregate_checks.SPECS`); the Source's and
the schema's are separate check definitions.
"""

from wind_pipeline.checks.source import source_seed_checks
from wind_pipeline.checks.target import target_schema_checks

all_asset_checks = [source_seed_checks, target_schema_checks]

__all__ = ["all_asset_checks", "source_seed_checks", "target_schema_checks"]
