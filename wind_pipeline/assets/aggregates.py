"""`wind_10min_aggregates`: the daily ETL from the Conektor API into the Target database."""

import dagster as dg

from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema
from wind_pipeline.etl.extract import ConektorRequestError
from wind_pipeline.etl.load import TargetSchemaMissing
from wind_pipeline.etl.pipeline import EmptySourceDay, days_between, run_etl
from wind_pipeline.partitions import daily_partitions
from wind_pipeline.resources import ConektorClient, TargetDatabase


@dg.asset(
    partitions_def=daily_partitions,
    deps=[source_seed, target_schema],
    # A backfill of many days is one run that reads each day and writes them all at once.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="aggregates",
    kinds={"pandas", "postgres"},
    owners=["team:data-engineering"],
)
def wind_10min_aggregates(
    context: dg.AssetExecutionContext, conektor: ConektorClient, target_db: TargetDatabase
) -> dg.MaterializeResult:
    """Wind speed and power as 10-minute mean, min, max and sample std, one UTC day a partition.

    Reads the day's one-minute rows through the Conektor API, aggregates them with pandas
    (buckets closed on the left, labelled by their start), and replaces the day's rows of the
    eight signals in the Target in one transaction: re-running a day gives the same table.
    """
    window = context.partition_time_window
    days = days_between(window.start, window.end)
    try:
        result = run_etl(conektor.session, target_db.engine, days)
    except (EmptySourceDay, ConektorRequestError, TargetSchemaMissing) as exc:
        # Retrying cannot fix these: fail at once with the message.
        raise dg.Failure(description=str(exc), allow_retries=False) from exc

    stats = conektor.session.stats
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows_written,
            "source_rows_read": result.source_rows,
            "rows_written": result.rows_written,
            "window_start": result.start.isoformat(),
            "window_end": result.end.isoformat(),
            "days": len(result.days),
            "api_requests": stats.requests,
            "api_seconds": round(stats.seconds, 4),
            "api_bytes": stats.bytes,
        }
    )
