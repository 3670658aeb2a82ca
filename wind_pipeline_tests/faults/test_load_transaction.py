"""The load transaction under fire: a killed loader, a cut connection, a crashed Target.

Each test pauses a real `wind-etl` process at a point inside `replace_window` (the test-only
WIND_FAULT_PAUSE hook), breaks something there, and checks that the day in the Target is
entirely the old rows or entirely the new ones, never a mix, and that a re-run converges.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from wind_pipeline.target_models import create_target_schema
from wind_pipeline_tests.support.faultkit import (
    WIND_ETL,
    advisory_locks,
    start_loader,
    start_paused_loader,
    wait_until,
)
from wind_pipeline_tests.support.helpers import execute, scalar, table_snapshot
from wind_stack.net import free_port
from wind_stack.postgres import EmbeddedPostgres

DAY = "2024-01-05"


def _run_etl(env: dict[str, str]) -> None:
    result = start_loader([WIND_ETL, DAY], env).finish()
    assert result.returncode == 0, result.stderr


def _old_and_new(env: dict[str, str], target_url: str) -> tuple[list, list]:
    """Load the day (the "new" rows), then tamper with every value (the "old" rows)."""
    _run_etl(env)
    new = table_snapshot(target_url)
    assert len(new) == 1152
    execute(target_url, "UPDATE data SET value = -1000 - coalesce(value, 0)")
    old = table_snapshot(target_url)
    assert len(old) == 1152 and not set(old) & set(new)
    return old, new


@pytest.fixture
def env(api_url: str, target_url: str) -> dict[str, str]:
    return {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}


@pytest.mark.parametrize(
    ("point", "survivor"),
    [("after_delete", "old"), ("before_commit", "old"), ("after_commit", "new")],
)
def test_sigkill_inside_the_load_leaves_the_old_day_or_the_new_day(
    env, target_url, tmp_path, point, survivor
):
    old, new = _old_and_new(env, target_url)
    loader = start_paused_loader([WIND_ETL, DAY], env, point, tmp_path)
    if point != "after_commit":
        # Another session sees the whole old day while the load is in flight.
        assert table_snapshot(target_url) == old
        assert [lock.granted for lock in advisory_locks(target_url)] == [True]
    loader.kill()
    # The server notices the dead client, rolls back and releases the day's lock.
    wait_until(lambda: not advisory_locks(target_url), "the killed loader's lock to go")

    assert table_snapshot(target_url) == (old if survivor == "old" else new)
    _run_etl(env)
    assert table_snapshot(target_url) == new


def test_connection_lost_before_commit_fails_in_one_line_and_keeps_the_old_day(
    env, target_url, tmp_path
):
    old, new = _old_and_new(env, target_url)
    loader = start_paused_loader([WIND_ETL, DAY], env, "before_commit", tmp_path)
    (holder,) = advisory_locks(target_url)
    assert scalar(target_url, "SELECT pg_terminate_backend(:pid)", pid=holder.pid)
    loader.release()
    result = loader.finish()

    assert result.returncode == 1
    assert result.stderr.startswith("wind-etl: Target database")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert table_snapshot(target_url) == old
    _run_etl(env)
    assert table_snapshot(target_url) == new


@pytest.fixture(scope="module")
def durable_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A Target on its own server, with fsync on, that the tests may crash."""
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("crash") / "pgdata", free_port(), durable=True
    )
    server.start()
    engine = sa.create_engine(server.url())
    create_target_schema(engine)
    engine.dispose()
    try:
        yield server
    finally:
        server.stop()


def _crash(server: EmbeddedPostgres) -> None:
    """Stop the server as a power cut would: no checkpoint; recovery replays the WAL."""
    result = server._run("pg_ctl", "-D", str(server.data_dir), "-m", "immediate", "-w", "stop")
    assert result.returncode == 0, result.stderr
    assert not server.is_running()


@pytest.mark.parametrize(("point", "survivor"), [("before_commit", "old"), ("after_commit", "new")])
def test_target_server_crash_at_the_commit_point_recovers_one_whole_day(
    api_url, durable_target: EmbeddedPostgres, tmp_path, point, survivor
):
    target_url = durable_target.url()
    env = {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}
    old, new = _old_and_new(env, target_url)
    loader = start_paused_loader([WIND_ETL, DAY], env, point, tmp_path)
    _crash(durable_target)
    loader.release()
    result = loader.finish()
    if point == "before_commit":
        assert result.returncode == 1 and "Target database" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    else:
        assert result.returncode == 0, result.stderr

    durable_target.start()
    assert table_snapshot(target_url) == (old if survivor == "old" else new)
    _run_etl(env)
    assert table_snapshot(target_url) == new
