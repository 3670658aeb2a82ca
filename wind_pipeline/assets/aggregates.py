"""`wind_10min_aggregates`: the daily ETL from the Conektor API into the Target, and its checks.

The asset reads the run's one-minute rows through the API (one paged call for all its days),
aggregates them with pandas and replaces those days in the Target in one transaction (see
docs/architecture.md). Its checks are declared on it, so they judge each day in the same step,
from the rows in hand; selected alone, the step reads the Source and the Target itself (with
no partition, for every day the Target holds: assets/run_days.py).
"""

from collections.abc import Iterator

import dagster as dg
from sqlalchemy import Engine, func, select

from wind_pipeline.assets.partition_metadata import partition_metadata
from wind_pipeline.assets.run_days import run_days
from wind_pipeline.assets.run_faults import PERMANENT_FAULTS, TRANSIENT_FAULTS, step_fault
from wind_pipeline.checks.aggregate_checks import AGGREGATES, SPECS, evaluate_checks
from wind_pipeline.checks.run_rows import RunRows
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.pipeline import EtlResult, run_etl
from wind_pipeline.etl.target_reader import read_target_days
from wind_pipeline.partitions import daily_partitions, partition_key
from wind_pipeline.resources import TRANSIENT_FAULT_RETRY_POLICY, ConektorClient, TargetDatabase
from wind_pipeline.target_models import Data, Signal

COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("signal_id", "integer", description="signal.id, e.g. wind_speed_mean"),
        dg.TableColumn("timestamp", "timestamptz", description="Start of the 10-minute bucket"),
        dg.TableColumn("value", "double precision", description="NULL for a one-sample std"),
    ]
)

AGGREGATES_SPEC = dg.AssetSpec(
    AGGREGATES,
    description="Wind speed and power as 10-minute mean, min, max and sample std, a UTC day a partition.",
    # The Source's rows come from the seed and, in live mode, from the feed.
    deps=["source_seed", "source_live_readings", "target_schema"],
    group_name="aggregates",
    kinds={"pandas", "postgres"},
    owners=["team:data-engineering"],
    tags={"layer": "aggregate"},
    metadata={"dagster/column_schema": COLUMN_SCHEMA, "dagster/table_name": "data"},
)


def _table_rows(engine: Engine) -> int:
    """Rows of the eight signals in the Target, all days: the asset's `dagster/row_count`."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Data)
            .join(Signal, Signal.id == Data.signal_id)
            .where(Signal.name.in_(SIGNAL_NAMES))
        ).scalar_one()


def _materialized(context: dg.AssetExecutionContext, result: EtlResult, engine: Engine):
    """Each partition's metadata, then the run's own."""
    table_rows = _table_rows(engine)
    table_name = f"{engine.url.database}.public.data"
    for i, day in enumerate(result.days):
        context.add_asset_metadata(
            partition_metadata(day, result.aggregates_for(i), table_rows, table_name),
            partition_key=partition_key(day.day),
        )
    return dg.MaterializeResult(
        metadata={
            "run_days": len(result.days),
            "run_window": f"{result.start:%Y-%m-%d} .. {result.end:%Y-%m-%d} (end exclusive)",
        }
    )


def build_wind_10min_aggregates(
    retry_policy: dg.RetryPolicy = TRANSIENT_FAULT_RETRY_POLICY,
) -> dg.AssetsDefinition:
    """The asset, retrying transient faults on `retry_policy`'s schedule (tests shorten it)."""

    @dg.multi_asset(
        name="wind_10min_aggregates",
        specs=[AGGREGATES_SPEC],
        check_specs=list(SPECS.values()),
        can_subset=True,
        partitions_def=daily_partitions,
        # A backfill of many days is one run that reads each day and writes them all at once.
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def wind_10min_aggregates(
        context: dg.AssetExecutionContext, conektor: ConektorClient, target_db: TargetDatabase
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation | dg.Output]:
        """Aggregate the run's UTC days into the Target, then judge each day with the checks."""
        engine = target_db.engine
        try:
            days = run_days(context, engine)
            result = None
            if AGGREGATES in context.selected_asset_keys:
                result = run_etl(conektor.session, engine, days)
                yield _materialized(context, result, engine)
            if context.selected_asset_check_keys:
                yield from evaluate_checks(context, _run_rows(conektor, engine, days, result))
        except (*PERMANENT_FAULTS, *TRANSIENT_FAULTS) as exc:
            # Raised here rather than by an op-level RetryPolicy: Dagster's policy also retries
            # an interrupted step, so Terminate would re-run the ETL instead of stopping it.
            fault = step_fault(exc, engine, retry_policy, context.retry_number)
            # Only the fault's own one-line cause, not the libraries' exception chain.
            raise fault from fault.__cause__

    return wind_10min_aggregates


def _run_rows(conektor: ConektorClient, engine: Engine, days, result: EtlResult | None) -> RunRows:
    """The checks' input: the asset's rows when it just ran, else the Source read anew."""
    target = read_target_days(engine, days)
    if result is None:
        return RunRows.of(days, conektor.session.fetch_days(days), target)
    return RunRows.of(
        days,
        result.source,
        target,
        coverages=[day.coverage for day in result.days],
        expected=result.aggregates,
    )


wind_10min_aggregates = build_wind_10min_aggregates()
