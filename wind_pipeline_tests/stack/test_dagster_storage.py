"""The local stack's Dagster instance: Dagster's own tables in PostgreSQL, the event log over
one kept-open connection, and a connection the server dropped replaced instead of failing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from wind_pipeline.dagster_storage import PooledPostgresEventLogStorage
from wind_pipeline.local_stack import dagster_instance_yaml

from wind_pipeline import dagster_storage
from wind_pipeline_tests.support.helpers import execute, scalar


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


def test_the_code_location_turns_on_event_batching(monkeypatch):
    monkeypatch.delenv(dagster_storage.EVENT_BATCH_SIZE_VARIABLE, raising=False)
    dagster_storage.enable_event_batching()
    assert os.environ[dagster_storage.EVENT_BATCH_SIZE_VARIABLE] == dagster_storage.EVENT_BATCH_SIZE
    monkeypatch.setenv(dagster_storage.EVENT_BATCH_SIZE_VARIABLE, "7")
    dagster_storage.enable_event_batching()  # an operator's own value wins
    assert os.environ[dagster_storage.EVENT_BATCH_SIZE_VARIABLE] == "7"
