"""Checks of `target_schema`: the eight signals exist, and the tables are the models' tables.

Both are blocking: the ETL writes by signal name and relies on the primary key to make a
duplicate impossible, so without them no day can be written correctly; in a run that creates
the schema and aggregates, aggregation does not start.
"""

from collections.abc import Iterator

import dagster as dg
from sqlalchemy import Engine, inspect, select

from wind_pipeline.assets.target import target_schema
from wind_pipeline.checks.outcome import ERROR, Outcome, report
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.resources import TargetDatabase
from wind_pipeline.target_models import Signal, TargetBase

EIGHT_SIGNALS = "eight_signals"
TABLES_MATCH_MODELS = "tables_match_models"

SPECS = {
    EIGHT_SIGNALS: dg.AssetCheckSpec(
        EIGHT_SIGNALS,
        asset=target_schema,
        blocking=True,
        description="Table `signal` holds " + ", ".join(SIGNAL_NAMES) + ".",
    ),
    TABLES_MATCH_MODELS: dg.AssetCheckSpec(
        TABLES_MATCH_MODELS,
        asset=target_schema,
        blocking=True,
        description="Tables `signal` and `data` have the models' columns and primary keys.",
    ),
}


def eight_signals_outcome(names: set[str]) -> Outcome:
    missing = [name for name in SIGNAL_NAMES if name not in names]
    others = sorted(names - set(SIGNAL_NAMES))
    metadata = {
        "signals_present": len(set(SIGNAL_NAMES) & names),
        "missing": ", ".join(missing) or "none",
        "other_signals": ", ".join(others) or "none",
    }
    if missing:
        return Outcome(
            False,
            f"missing signal(s): {', '.join(missing)}"
            + (f" (the table also holds: {', '.join(others)})" if others else "")
            + "; materialize target_schema",
            ERROR,
            metadata,
        )
    return Outcome(True, f"the eight signals exist: {', '.join(SIGNAL_NAMES)}", metadata=metadata)


def read_signal_names(engine: Engine) -> set[str] | None:
    if not inspect(engine).has_table(Signal.__tablename__):
        return None
    with engine.connect() as conn:
        return set(conn.execute(select(Signal.name)).scalars())


def tables_match_models_outcome(engine: Engine) -> Outcome:
    inspector = inspect(engine)
    problems = []
    for table in TargetBase.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            problems.append(f"table {table.name} does not exist")
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in columns]
        if missing:
            problems.append(f"{table.name} lacks column(s) {', '.join(missing)}")
        key = inspector.get_pk_constraint(table.name).get("constrained_columns") or []
        expected_key = [c.name for c in table.primary_key.columns]
        if sorted(key) != sorted(expected_key):
            problems.append(
                f"{table.name} has primary key ({', '.join(key)}), the model says "
                f"({', '.join(expected_key)})"
            )
    if problems:
        return Outcome(False, "; ".join(problems) + "; materialize target_schema", ERROR)
    return Outcome(True, "tables signal and data have the models' columns and primary keys")


@dg.multi_asset_check(
    specs=list(SPECS.values()),
    name="target_schema_checks",
    description="The Target's tables and the eight signals the ETL writes.",
    can_subset=True,
)
def target_schema_checks(
    context: dg.AssetCheckExecutionContext, target_db: TargetDatabase
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Evaluate the selected checks against the Target's catalog and `signal` table."""
    selected = context.selected_asset_check_keys
    engine = target_db.engine
    outcomes = []
    if SPECS[EIGHT_SIGNALS].key in selected:
        names = read_signal_names(engine)
        outcome = (
            eight_signals_outcome(names)
            if names is not None
            else Outcome(False, "table signal does not exist; materialize target_schema", ERROR)
        )
        outcomes.append((SPECS[EIGHT_SIGNALS].key, None, outcome))
    if SPECS[TABLES_MATCH_MODELS].key in selected:
        outcomes.append((SPECS[TABLES_MATCH_MODELS].key, None, tables_match_models_outcome(engine)))
    yield from report(context, outcomes)
