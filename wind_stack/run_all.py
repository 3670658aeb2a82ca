"""`make run`: provision the Source and Target, aggregate every full day the Source holds,
and print a summary. Runs go through Dagster (recorded in DAGSTER_HOME, so `make dev` shows
them); everything is idempotent, so running it again converges on the same tables.

    python -m wind_stack.run_all      (what `make run` runs, after `make up`)
"""

from __future__ import annotations

import sys
import warnings

import dagster as dg
import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta, by choice

from wind_pipeline.db import make_engine
from wind_pipeline.definitions import defs
from wind_pipeline.partitions import daily_partitions
from wind_pipeline.settings import ConfigurationError, load_settings, mask_passwords, redact
from wind_pipeline.source_data import source_period
from wind_pipeline.target_models import Data
from wind_stack.dagster_instance import export_run_environment

UI_URL = "http://127.0.0.1:3000"
# Dagster's console logger at WARNING: the summary is what a person wants to read here.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# What a Dagster webserver says about itself: its code locations and its instance.
_WHO_ARE_YOU = """
{ instance { executablePath info }
  workspaceOrError { ... on Workspace { locationEntries { name } } } }
"""


def ui_of_this_checkout(url: str, instance: dg.DagsterInstance) -> bool:
    """Whether `url` serves this checkout's Dagster UI, not just anything on that port: a Dagster
    webserver that serves the `wind_pipeline` code location with this venv's Python and, when it
    shows its instance's configuration, this DAGSTER_HOME's instance."""
    try:
        reply = httpx.post(f"{url}/graphql", json={"query": _WHO_ARE_YOU}, timeout=2.0)
        data = reply.json()["data"]
        entries = data["workspaceOrError"]["locationEntries"]
        executable, info = data["instance"]["executablePath"], data["instance"]["info"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False
    if "wind_pipeline" not in {entry.get("name") for entry in entries or []}:
        return False
    if executable != sys.executable:
        return False
    return info is None or str(instance.root_directory) in info


def _run_job(name: str, instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> None:
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, tags=tags or {}, raise_on_error=False, run_config=_QUIET
    )
    if not result.success:
        failures = [
            event.step_failure_data.error.message.strip().splitlines()[0]
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error
        ]
        raise RuntimeError(f"{name} failed: {'; '.join(failures) or 'see the Dagster logs'}")


def main() -> int:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    export_run_environment(settings)
    source, target = make_engine(settings.source_db_url), make_engine(settings.target_db_url)
    try:
        with dg.DagsterInstance.get() as instance:
            print("materializing source_seed and target_schema ...")
            _run_job("bootstrap_job", instance)
            period = source_period(source)
            keys = set(daily_partitions.get_partition_keys())
            days = [
                d.date().isoformat() for d in period.full_days() if d.date().isoformat() in keys
            ]
            if not days:
                print(
                    f"make run: no complete day to aggregate ({period.describe()})", file=sys.stderr
                )
                return 1
            print(f"materializing wind_10min_aggregates for {days[0]} .. {days[-1]} (one run) ...")
            _run_job(
                "wind_etl_job",
                instance,
                tags={
                    "dagster/asset_partition_range_start": days[0],
                    "dagster/asset_partition_range_end": days[-1],
                },
            )
        with target.connect() as conn:
            day = func.date_trunc("day", Data.timestamp, "UTC")
            per_day = conn.execute(select(day, func.count()).group_by(day).order_by(day)).all()
    except (RuntimeError, SQLAlchemyError) as exc:
        print(f"make run: {mask_passwords(str(exc).strip().splitlines()[0])}", file=sys.stderr)
        return 1
    finally:
        source.dispose()
        target.dispose()

    print()
    print(f"Source  {redact(settings.source_db_url)}")
    print(f"        {period.describe()}")
    print(f"Target  {redact(settings.target_db_url)}")
    for bucket_day, count in per_day:
        print(f"        {bucket_day:%Y-%m-%d}  {count:>5} rows")
    print(f"        total {sum(c for _, c in per_day):,} rows in {len(per_day)} days")
    api = redact(settings.api_url)
    print(f"API     {api}  (try {api}/docs)")
    with dg.DagsterInstance.get() as instance:
        ours = ui_of_this_checkout(UI_URL, instance)
    print(f"UI      {UI_URL}" if ours else "UI      not running (start it with `make dev`)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
