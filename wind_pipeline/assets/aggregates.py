"""`wind_10min_aggregates`: the daily ETL from the Conektor API into the Target database."""

import dagster as dg
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from wind_pipeline.assets.partition_metadata import partition_metadata
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema
from wind_pipeline.etl import run_memo
from wind_pipeline.etl.extract import ConektorRequestError
from wind_pipeline.etl.load import TargetSchemaMissing
from wind_pipeline.etl.pipeline import EmptySourceDay, days_between, run_etl
from wind_pipeline.partitions import daily_partitions
from wind_pipeline.resources import TRANSIENT_FAULT_RETRY_POLICY, ConektorClient, TargetDatabase
from wind_pipeline.target_models import SIGNAL_NAMES, Data, Signal

# Retrying cannot fix these: the step fails at once with the message.
PERMANENT_FAULTS = (EmptySourceDay, ConektorRequestError, TargetSchemaMissing, ValueError)
# A database that is down or drops the connection may come back: the retry policy re-runs the step.
DATABASE_FAULTS = (OperationalError, InterfaceError, PoolTimeoutError)

COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("signal_id", "integer", description="signal.id, e.g. wind_speed_mean"),
        dg.TableColumn("timestamp", "timestamptz", description="Start of the 10-minute bucket"),
        dg.TableColumn("value", "double precision", description="NULL for a one-sample std"),
    ]
)


class TargetUnavailable(RuntimeError):
    """The Target database could not be reached or dropped the connection (transient)."""


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _table_rows(engine: Engine) -> int:
    """Rows of the eight signals in the Target, all days: the asset's `dagster/row_count`."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Data)
            .join(Signal, Signal.id == Data.signal_id)
            .where(Signal.name.in_(SIGNAL_NAMES))
        ).scalar_one()


def build_wind_10min_aggregates(
    retry_policy: dg.RetryPolicy = TRANSIENT_FAULT_RETRY_POLICY,
) -> dg.AssetsDefinition:
    """The asset, with the given retry policy (tests pass one with short delays)."""

    @dg.asset(
        name="wind_10min_aggregates",
        partitions_def=daily_partitions,
        deps=[source_seed, target_schema],
        # A backfill of many days is one run that reads each day and writes them all at once.
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=retry_policy,
        group_name="aggregates",
        kinds={"pandas", "postgres"},
        owners=["team:data-engineering"],
        tags={"layer": "aggregate"},
        metadata={"dagster/column_schema": COLUMN_SCHEMA, "dagster/table_name": "data"},
    )
    def wind_10min_aggregates(
        context: dg.AssetExecutionContext, conektor: ConektorClient, target_db: TargetDatabase
    ) -> dg.MaterializeResult:
        """Wind speed and power as 10-minute mean, min, max and sample std, one UTC day a partition.

        Reads the run's one-minute rows through the Conektor API (one paged call for all its
        days), aggregates them with pandas (buckets closed on the left, labelled by their
        start), and replaces the days of the run in the Target's `data` table, for the eight
        signals, in one transaction: re-running a day gives the same table. A backfill of many
        days is one run. Each partition records its row counts, the Source's coverage of the
        day, its share of the API call's cost, a preview of its buckets and a chart of the day.
        """
        window = context.partition_time_window
        days = days_between(window.start, window.end)
        if not days:
            raise dg.Failure(
                description=f"the run's partition window {window.start:%Y-%m-%d} .. "
                f"{window.end:%Y-%m-%d} holds no day (a reversed --partition-range?)",
                allow_retries=False,
            )
        engine = target_db.engine
        where = engine.url.render_as_string(hide_password=True)
        try:
            result = run_etl(conektor.session, engine, days)
            table_rows = _table_rows(engine)
        except PERMANENT_FAULTS as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        except ProgrammingError as exc:
            # A missing table or a missing privilege: the same on every attempt.
            raise dg.Failure(
                description=f"Target database {where} refused the ETL: {_reason(exc)} "
                "(has target_schema been materialized?)",
                allow_retries=False,
            ) from exc
        except DATABASE_FAULTS as exc:
            raise TargetUnavailable(f"Target database {where} unavailable: {_reason(exc)}") from exc

        # The checks step of this run (same process, next step) reuses these Source rows.
        run_memo.remember(context.run.run_id, days, result.source)
        table_name = f"{engine.url.database}.public.data"
        for day in result.days:
            context.add_asset_metadata(
                partition_metadata(day, result.aggregates_for(day.day), table_rows, table_name),
                partition_key=day.day.isoformat(),
            )
        # Shared by every partition of the run (each one's own values are added above).
        return dg.MaterializeResult(
            metadata={
                "run_days": len(result.days),
                "run_window": f"{result.start:%Y-%m-%d} .. {result.end:%Y-%m-%d} (end exclusive)",
            }
        )

    return wind_10min_aggregates


wind_10min_aggregates = build_wind_10min_aggregates()
