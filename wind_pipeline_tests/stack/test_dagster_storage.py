"""The local stack's Dagster instance: Dagster's own tables in PostgreSQL, the event log over
one kept-open connection, and a connection the server dropped replaced instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from wind_pipeline_tests.support.helpers import REPO_ROOT, execute, scalar
from wind_stack import dagster_storage
from wind_stack.dagster_instance import dagster_instance_yaml
from wind_stack.dagster_storage import PooledPostgresEventLogStorage

EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"


@dg.asset(name="tiny_checked", check_specs=[dg.AssetCheckSpec("ok", asset="tiny_checked")])
def tiny_checked() -> dg.MaterializeResult:
    """One materialization and one check verdict."""
    return dg.MaterializeResult(
        metadata={"rows": 1}, check_results=[dg.AssetCheckResult(check_name="ok", passed=True)]
    )


@pytest.fixture
def storage_db(new_database: Callable[[str], str]) -> str:
    return new_database("dagster_storage")


@pytest.fixture
def instance(storage_db: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_instance_yaml(storage_db))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


def _backends(db_url: str, admin_url: str) -> list[int]:
    """Server processes connected to the storage database (other than the asking one)."""
    name = sa.make_url(db_url).database
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :name "
                        "AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).scalars()
            )
    finally:
        engine.dispose()


def _materialize(instance: dg.DagsterInstance) -> None:
    result = dg.materialize([tiny_checked], instance=instance)
    assert result.success


def test_events_and_verdicts_land_in_postgres_over_one_kept_open_connection(
    instance, storage_db, pg_admin_url
):
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    for _ in range(3):
        _materialize(instance)
    key = dg.AssetKey("tiny_checked")
    assert instance.get_latest_materialization_event(key) is not None
    check = dg.AssetCheckKey(key, "ok")
    history = instance.event_log_storage.get_asset_check_execution_history(check, limit=10)
    assert len(history) == 3
    assert scalar(storage_db, "SELECT count(*) FROM event_logs") > 3 * 5
    # Three runs' worth of events went through one connection, still open for the next event
    # (Dagster's own PostgresEventLogStorage closes a new one after every event).
    assert len(_backends(storage_db, pg_admin_url)) == 1


def test_a_connection_the_server_dropped_is_replaced_after_idling(
    instance, storage_db, pg_admin_url, monkeypatch
):
    _materialize(instance)
    (before,) = _backends(storage_db, pg_admin_url)
    execute(pg_admin_url, f"SELECT pg_terminate_backend({before})")
    monkeypatch.setattr(dagster_storage, "PING_AFTER_IDLE_SECONDS", 0.0)
    _materialize(instance)  # the dead connection is noticed at checkout and replaced
    (after,) = _backends(storage_db, pg_admin_url)
    assert after != before
    key = dg.AssetKey("tiny_checked")
    assert len(instance.fetch_materializations(key, limit=10).records) == 2


def test_without_the_idle_check_the_dropped_connection_would_fail(
    instance, storage_db, pg_admin_url, monkeypatch
):
    """The check above is what saves the run: with it switched off the same drop surfaces."""
    _materialize(instance)
    (before,) = _backends(storage_db, pg_admin_url)
    execute(pg_admin_url, f"SELECT pg_terminate_backend({before})")
    monkeypatch.setattr(dagster_storage, "PING_AFTER_IDLE_SECONDS", float("inf"))
    with pytest.raises(sa.exc.OperationalError):
        instance.event_log_storage.get_latest_materialization_events([dg.AssetKey("tiny_checked")])


def test_importing_the_code_location_sets_no_environment_variable():
    """Event batching (and any tuning) comes from the environment that runs the code, not from
    an import side effect: the code location and the storage leave os.environ as they found it."""
    code = (
        "import os; before = dict(os.environ); "
        "import wind_pipeline.definitions, wind_stack.dagster_storage, wind_stack.run_all; "
        "changed = set(os.environ.items()) ^ set(before.items()); assert not changed, changed"
    )
    env = {k: v for k, v in os.environ.items() if k != EVENT_BATCH_SIZE}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def _make_recipe_env(tmp_path: Path, target: str, **env: str) -> set[str]:
    """The DAGSTER_EVENT_BATCH_SIZE each recipe line of `make TARGET` would run with: make's
    SHELL is replaced by a script that prints it instead of running the line."""
    shell = tmp_path / "print-env.sh"
    shell.write_text(f'#!/bin/sh\necho "batch=${{{EVENT_BATCH_SIZE}-unset}}"\n')
    shell.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k != EVENT_BATCH_SIZE and k != "MAKEFLAGS"}
    result = subprocess.run(
        ["make", "--no-print-directory", "-B", f"SHELL={shell}", target],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {line for line in result.stdout.splitlines() if line.startswith("batch=")}


@pytest.mark.parametrize("target", ["run", "dev"])
def test_make_run_and_dev_run_with_event_batching(tmp_path, target):
    assert _make_recipe_env(tmp_path, target) == {"batch=1000"}
    # An operator's own value wins.
    assert _make_recipe_env(tmp_path, target, **{EVENT_BATCH_SIZE: "7"}) == {"batch=7"}
