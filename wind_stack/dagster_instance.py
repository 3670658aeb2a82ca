"""The Dagster instance of `make run` / `make dev`: DAGSTER_HOME/dagster.yaml, with Dagster's
runs, event logs and schedules in the local stack's PostgreSQL, like the Compose deployment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from wind_stack.passwords import write_private

if TYPE_CHECKING:
    from wind_pipeline.settings import WindSettings

DAGSTER_DB = "dagster"
DAGSTER_YAML_HEADER = "# Written by `wind-stack up` (make up)"
# Set in the environment of whatever runs the code location (`make run`, `make dev`, the
# venv's activate script, the benchmark, the Compose files), never by the code at import; an
# operator's own value wins. DAGSTER_EVENT_BATCH_SIZE is Dagster's own switch: the asset
# events of one step output (a backfill's per-partition materializations) are stored in
# batches of this many rows instead of one INSERT each.
RUN_ENVIRONMENT = {"DAGSTER_EVENT_BATCH_SIZE": "1000"}
# How often the daemon's run monitoring looks at runs in progress.
MONITORING_POLL_SECONDS = 15


def export_run_environment(settings: WindSettings) -> None:
    """Before running the code location in this process (`make run`, the Compose bootstrap):
    put the settings where its resources read them (`dg.EnvVar("WIND_...")`; they may have come
    from `.env` or the defaults), and RUN_ENVIRONMENT unless the caller set its own values."""
    os.environ["WIND_SOURCE_DB_URL"] = settings.source_db_url
    os.environ["WIND_TARGET_DB_URL"] = settings.target_db_url
    os.environ["WIND_API_URL"] = settings.api_url
    for key, value in RUN_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def dagster_instance_yaml(database_url: str) -> str:
    """dagster.yaml for DAGSTER_HOME: Dagster's storage in the given PostgreSQL database."""
    url = database_url.replace("postgresql+psycopg2://", "postgresql://")
    return (
        f"{DAGSTER_YAML_HEADER}: Dagster's runs, event logs and schedules in the\n"
        "# local stack's PostgreSQL, like the compose deployment. Rewritten on every `up`;\n"
        "# delete this header to keep your own edits.\n"
        "run_storage:\n"
        "  module: dagster_postgres.run_storage\n"
        "  class: PostgresRunStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "# The same tables, over a kept-open connection (wind_stack/dagster_storage.py).\n"
        "event_log_storage:\n"
        "  module: wind_stack.dagster_storage\n"
        "  class: PooledPostgresEventLogStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "schedule_storage:\n"
        "  module: dagster_postgres.schedule_storage\n"
        "  class: PostgresScheduleStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "# Runs whose process died are marked failed by the daemon (`make dev` runs it): the\n"
        "# launcher checks a run's process on this machine (wind_stack/run_launcher.py). No resume:\n"
        "# Dagster's default launcher cannot; re-execute the run (each day is rewritten atomically).\n"
        "run_launcher:\n"
        "  module: wind_stack.run_launcher\n"
        "  class: LocalRunLauncher\n"
        "run_monitoring:\n"
        "  enabled: true\n"
        f"  poll_interval_seconds: {MONITORING_POLL_SECONDS}\n"
        "  start_timeout_seconds: 180\n"
        "  cancel_timeout_seconds: 180\n"
        "  max_resume_run_attempts: 0\n"
        "telemetry:\n"
        "  enabled: false\n"
    )


def write_dagster_instance(dagster_home: Path, database_url: str) -> bool:
    """Write DAGSTER_HOME/dagster.yaml unless it is someone's own file; True if written."""
    path = dagster_home / "dagster.yaml"
    current = path.read_text() if path.exists() else ""
    if current.strip() and not current.startswith(DAGSTER_YAML_HEADER):
        return False
    # It holds the database password: readable by its owner only.
    write_private(path, dagster_instance_yaml(database_url))
    return True


def is_stack_written(dagster_home: Path) -> bool:
    path = dagster_home / "dagster.yaml"
    return path.exists() and path.read_text().startswith(DAGSTER_YAML_HEADER)


def relax_dagster_commits(admin_url: str) -> None:
    """Commit Dagster's run history asynchronously (the Source and Target stay synchronous).

    A backfill of a year writes a couple of thousand events; waiting for each one's WAL flush
    was ~1.2 s of a 365-day run here. A crash of the server (not of a run) can lose the last
    fraction of a second of events, never corrupt them, and never touches the Target's data;
    re-running a day whose materialization event was lost is idempotent.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {DAGSTER_DB} SET synchronous_commit = off"))
    finally:
        engine.dispose()
