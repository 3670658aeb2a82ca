"""`target_schema`: the Target database's tables and the eight signals the ETL writes."""

import dagster as dg

from wind_pipeline.resources import TargetDatabase
from wind_pipeline.target_models import create_target_schema


@dg.asset(
    group_name="target",
    kinds={"postgres", "sqlalchemy"},
    owners=["team:data-engineering"],
)
def target_schema(target_db: TargetDatabase) -> dg.MaterializeResult:
    """Tables `signal(id, name)` and `data(timestamp, signal_id, value)`, and the eight signals."""
    # Created from the SQLAlchemy models; idempotent: running it again changes nothing.
    ids = create_target_schema(target_db.engine)
    return dg.MaterializeResult(
        metadata={
            "signals": dg.MetadataValue.json(ids),
            "tables": dg.MetadataValue.json(["signal", "data"]),
        }
    )
