"""Concurrent loads: the same day serializes on its lock; different days never wait.

A loader paused inside its transaction (the test-only WIND_FAULT_PAUSE hook) holds its days'
locks for as long as the test wants, so "B waits for A" and "C does not wait for A" are
observed in `pg_locks`, not inferred from timing.
"""

from __future__ import annotations

import threading

import pytest

from wind_pipeline_tests.support.faultkit import (
    RANGE_LOADER,
    WIND_ETL,
    advisory_locks,
    epoch_day,
    materialize,
    range_tags,
    start_loader,
    start_paused_loader,
    wait_until,
)
from wind_pipeline_tests.support.helpers import execute, scalar, table_snapshot


@pytest.fixture
def env(api_url: str, target_url: str) -> dict[str, str]:
    return {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}


def _waiting_for(target_url: str, day: str) -> bool:
    return any(
        not lock.granted and lock.epoch_day == epoch_day(day) for lock in advisory_locks(target_url)
    )


def _reference(api_url: str, target_url: str, first: str, last: str) -> list[tuple]:
    """The correct rows for [first, last], from one clean run; then every value is spoiled,
    so only a load that really rewrote each day can bring them back."""
    result = materialize(api_url, target_url, tags=range_tags(first, last))
    assert result.success
    reference = table_snapshot(target_url)
    execute(target_url, "UPDATE data SET value = -1")
    return reference


class _Background(threading.Thread):
    """A Dagster materialization in a thread, so the test can watch it wait."""

    def __init__(self, api_url: str, target_url: str, **kwargs: object):
        super().__init__(daemon=True)
        self.args = (api_url, target_url)
        self.kwargs = kwargs
        self.result = None

    def run(self) -> None:
        self.result = materialize(*self.args, **self.kwargs)


def test_two_loads_of_the_same_day_serialize_and_give_one_correct_day(
    api_url, target_url, env, tmp_path
):
    reference = _reference(api_url, target_url, "2024-01-05", "2024-01-05")
    a = start_paused_loader([WIND_ETL, "2024-01-05"], env, "before_commit", tmp_path)
    b = start_loader([WIND_ETL, "2024-01-05"], env)
    wait_until(lambda: _waiting_for(target_url, "2024-01-05"), "the second load to wait")
    assert b.proc.poll() is None

    a.release()
    first, second = a.finish(), b.finish()
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert table_snapshot(target_url) == reference


def test_a_dagster_materialization_waits_for_a_running_load_of_its_partition(
    api_url, target_url, env, tmp_path
):
    reference = _reference(api_url, target_url, "2024-01-05", "2024-01-05")
    a = start_paused_loader([WIND_ETL, "2024-01-05"], env, "after_delete", tmp_path)
    run = _Background(api_url, target_url, partition_key="2024-01-05")
    run.start()
    wait_until(lambda: _waiting_for(target_url, "2024-01-05"), "the materialization to wait")
    assert run.is_alive()

    a.release()
    assert a.finish().returncode == 0
    run.join(120)
    assert run.result is not None and run.result.success
    assert table_snapshot(target_url) == reference


def test_other_days_do_not_wait_and_overlapping_ranges_do_not_deadlock(
    api_url, target_url, env, tmp_path
):
    reference = _reference(api_url, target_url, "2024-01-04", "2024-01-07")
    # A holds days 5 and 6, paused inside its transaction.
    a = start_paused_loader(
        [*RANGE_LOADER, "2024-01-05", "2024-01-06"], env, "before_commit", tmp_path
    )
    # B wants days 6 and 7: it waits for 6, and (locking in day order) holds nothing after it.
    b = _Background(api_url, target_url, tags=range_tags("2024-01-06", "2024-01-07"))
    b.start()
    wait_until(lambda: _waiting_for(target_url, "2024-01-06"), "B to wait for day 6")

    # Days 4 and 7 are free: both loads finish while A still holds its transaction open.
    assert materialize(api_url, target_url, partition_key="2024-01-04").success
    c = start_loader([WIND_ETL, "2024-01-07"], env).finish()
    assert c.returncode == 0, c.stderr
    assert a.is_paused() and b.is_alive()

    a.release()
    assert a.finish().returncode == 0
    b.join(120)
    assert b.result is not None and b.result.success  # no "deadlock detected"
    assert table_snapshot(target_url) == reference
    assert scalar(target_url, "SELECT count(*) FROM data") == 4 * 1152
