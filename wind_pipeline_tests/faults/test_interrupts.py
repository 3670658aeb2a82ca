"""Runs that must stop: Ctrl-C on the Dagster CLI cancels the run with no retry, and a load
waiting for another run's lock on its day stops on Ctrl-C at once, or gives up after a bounded
wait with a clear message. Real processes, real PostgreSQL, the real API.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from wind_pipeline.etl.load import TargetBusy, replace_window
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline.target_models import signal_ids
from wind_pipeline_tests.support.faultkit import (
    WIND_ETL,
    advisory_locks,
    dagster_materialize,
    epoch_day,
    start_loader,
    start_paused_loader,
    wait_until,
)
from wind_pipeline_tests.support.helpers import execute, table_snapshot

DAY = "2024-01-05"
LOCK = "SELECT pg_advisory_lock(CAST(:ns AS integer), CAST(:day AS integer))"


@pytest.fixture
def env(api_url: str, target_url: str) -> dict[str, str]:
    return {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}


def _spoil(target_url: str) -> list[tuple]:
    """Make the day's rows recognisable (all -1), so "wholly old" can be told from new."""
    execute(target_url, "UPDATE data SET value = -1")
    return table_snapshot(target_url)


class HeldLock:
    """A session that holds the day's load lock, as another run (or a stranger) would."""

    def __init__(self, url: str, day: str):
        from wind_pipeline.etl.load import _LOCK_NAMESPACE

        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.conn = self.engine.connect()
        self.conn.execute(sa.text(LOCK), {"ns": _LOCK_NAMESPACE, "day": epoch_day(day)})

    def release(self) -> None:
        self.conn.close()
        self.engine.dispose()


def test_ctrl_c_on_the_dagster_cli_cancels_the_run_with_no_retry(env, target_url, tmp_path):
    """Dagster's retry policy turns an interrupt into a retry; the asset must not have one."""
    first = start_loader([WIND_ETL, DAY], env)
    assert first.finish().returncode == 0
    old = _spoil(target_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    command = dagster_materialize(DAY)
    loader = start_paused_loader(
        command, {**env, "DAGSTER_HOME": str(home)}, "after_delete", tmp_path, timeout=120
    )
    loader.proc.send_signal(signal.SIGINT)  # Ctrl-C
    loader.proc.communicate(timeout=60)

    assert table_snapshot(target_url) == old, "the interrupted load was rolled back"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        kinds = [
            record.event_log_entry.dagster_event.event_type_value
            for record in instance.get_records_for_run(run.run_id).records
            if record.event_log_entry.dagster_event
        ]
        assert run.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE)
    assert "STEP_UP_FOR_RETRY" not in kinds and "STEP_RESTARTED" not in kinds, kinds
    assert kinds.count("STEP_START") == 1


def test_wind_etl_waiting_for_the_days_lock_stops_on_ctrl_c_within_a_second(env, target_url):
    first = start_loader([WIND_ETL, DAY], env)
    assert first.finish().returncode == 0
    old = _spoil(target_url)
    held = HeldLock(target_url, DAY)
    try:
        waiting = start_loader([WIND_ETL, DAY], env)
        wait_until(
            lambda: any(
                not lock.granted and lock.epoch_day == epoch_day(DAY)
                for lock in advisory_locks(target_url)
            ),
            "wind-etl waits for the day's lock",
        )
        started = time.monotonic()
        waiting.proc.send_signal(signal.SIGINT)
        result = waiting.finish(timeout=10)
        assert time.monotonic() - started < 1.5
    finally:
        held.release()
    assert result.returncode == 130, result.stderr
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    assert table_snapshot(target_url) == old, "nothing written"


def test_a_load_gives_up_after_its_bounded_lock_wait_and_writes_nothing(target_url):
    start = datetime(2024, 1, 5, tzinfo=UTC)
    rows = aggregate_10min(generate_turbine_data(start, 1))
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool)
    before = table_snapshot(target_url)
    held = HeldLock(target_url, DAY)
    try:
        with pytest.raises(TargetBusy, match="nothing was written"):
            replace_window(engine, rows, start, start + timedelta(days=1), signal_ids(engine), 1.0)
    finally:
        held.release()
    assert table_snapshot(target_url) == before
    # Once the lock is free the same load goes through.
    assert (
        replace_window(engine, rows, start, start + timedelta(days=1), signal_ids(engine)) == 1152
    )
    engine.dispose()


def test_the_loader_is_never_retried_by_an_op_retry_policy():
    from wind_pipeline.definitions import defs

    aggregates = defs.resolve_assets_def("wind_10min_aggregates")
    assert aggregates.op.retry_policy is None, "an op RetryPolicy would retry a Terminate"
