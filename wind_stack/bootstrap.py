"""`python -m wind_stack.bootstrap`: the compose deployment's one-shot bootstrap.

Materializes `source_seed` and `target_schema` (the `bootstrap_job`) in the Dagster instance at
`DAGSTER_HOME`, so that after `docker compose up` the UI shows both assets materialized and the
daily partitions are ready to run. It runs at every `up`, and skips the job when a previous
bootstrap already did the work (both assets materialized in this instance, the Source holds
rows, the Target has its eight signals): a restart must not re-seed a Source that someone has
since re-materialized with another configuration. `--force` runs the job regardless.

Exit codes: 0 done or already done, 1 the job failed or a database is unreachable,
2 invalid configuration (a malformed URL, DAGSTER_HOME not set).
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from wind_pipeline.db import make_engine
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.settings import ConfigurationError, WindSettings, load_settings, redact
from wind_pipeline.source_data import source_period
from wind_pipeline.target_models import signal_ids
from wind_stack.dagster_instance import export_run_environment
from wind_stack.dagster_runs import run_job

BOOTSTRAP_JOB = "bootstrap_job"
BOOTSTRAP_ASSETS = (dg.AssetKey("source_seed"), dg.AssetKey("target_schema"))
EXIT_FAILED = 1
EXIT_USAGE = 2


def _say(message: str) -> None:
    print(f"bootstrap: {message}", flush=True)


def already_bootstrapped(instance: dg.DagsterInstance, settings: WindSettings) -> str | None:
    """Why the bootstrap can be skipped, or None when the job must run.

    Raises SQLAlchemyError when a database cannot be reached.
    """
    for key in BOOTSTRAP_ASSETS:
        if instance.get_latest_materialization_event(key) is None:
            return None
    source = make_engine(settings.source_db_url)
    target = make_engine(settings.target_db_url)
    try:
        if not inspect(source).has_table("data"):
            return None
        period = source_period(source)
        if period.row_count == 0:
            return None
        if not inspect(target).has_table("signal"):
            return None
        if set(signal_ids(target)) != set(SIGNAL_NAMES):
            return None
    finally:
        source.dispose()
        target.dispose()
    return f"{period.describe()}; the Target has its {len(SIGNAL_NAMES)} signals"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wind_stack.bootstrap",
        description=(
            "Materialize source_seed and target_schema in the Dagster instance at DAGSTER_HOME "
            "(skipped when already done)."
        ),
    )
    parser.add_argument(
        "--force", action="store_true", help="run the bootstrap job even if already done"
    )
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"bootstrap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not os.environ.get("DAGSTER_HOME"):
        # Without it Dagster would record the runs in a throw-away instance the UI never sees.
        print(
            "bootstrap: DAGSTER_HOME is not set (the folder holding dagster.yaml)", file=sys.stderr
        )
        return EXIT_USAGE

    export_run_environment(settings)
    try:
        with dg.DagsterInstance.get() as instance:
            reason = None if args.force else already_bootstrapped(instance, settings)
            if reason:
                _say(f"already done, skipping ({reason})")
                return 0
            _say(
                f"materializing source_seed into {redact(settings.source_db_url)} and "
                f"target_schema into {redact(settings.target_db_url)} ..."
            )
            # The run's full log is in the instance (the UI shows it); the container log gets
            # our summary only.
            run_job(
                BOOTSTRAP_JOB,
                instance,
                tags={"wind/trigger": "bootstrap"},
                console_level="CRITICAL",
            )
            period = source_period_of(settings)
    except (RuntimeError, SQLAlchemyError, dg.DagsterError) as exc:
        print(f"bootstrap: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    _say(f"done: {period}")
    return 0


def source_period_of(settings: WindSettings) -> str:
    engine = make_engine(settings.source_db_url)
    try:
        return source_period(engine).describe()
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
