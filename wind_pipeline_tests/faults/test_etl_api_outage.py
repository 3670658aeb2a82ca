"""The Conektor API failing under the ETL: unreachable, dying mid-response, coming back.

A real TCP proxy (`FaultyProxy`) sits between the ETL and the real API and resets
connections or cuts the response body part-way; nothing is mocked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from wind_pipeline_tests.support.faultkit import (
    WIND_ETL,
    FaultyProxy,
    failure_text,
    materialize,
    one_line_failure,
    start_loader,
)
from wind_pipeline_tests.support.helpers import scalar, table_snapshot
from wind_stack.net import free_port

DAY = "2024-01-05"
DAY_ROWS = (
    "SELECT count(*) FROM data WHERE timestamp >= '2024-01-05Z' AND timestamp < '2024-01-06Z'"
)


def _port(url: str) -> int:
    return urlsplit(url).port


@pytest.fixture
def before(api_url: str, target_url: str) -> list[tuple]:
    """The Target holds one other day already: a failed run must leave it exactly so."""
    assert materialize(api_url, target_url, partition_key="2024-01-04").success
    return table_snapshot(target_url)


def test_api_down_is_retried_with_backoff_then_fails_clearly_leaving_the_target(
    api_url, target_url, before
):
    with FaultyProxy(_port(api_url), then="reset") as proxy:
        result = materialize(proxy.url, target_url, partition_key=DAY, max_attempts=4)
    assert not result.success
    assert proxy.connections == ["reset"] * 4  # four attempts, then it gave up
    assert "unavailable after 4 attempts" in failure_text(result)
    assert table_snapshot(target_url) == before

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    result = materialize(nobody, target_url, partition_key=DAY, max_attempts=3)
    assert not result.success
    # The run's failure is one line naming the cause, not a chain of httpx errors.
    line = one_line_failure(result.all_events)
    assert line.startswith(f"Conektor API at {nobody} unavailable after 3 attempts: ")
    assert "Connection refused" in line and line.endswith("(gave up after 1 step attempt)")
    assert table_snapshot(target_url) == before


def test_api_back_after_two_refusals_gives_the_whole_day(api_url, target_url, before):
    with FaultyProxy(_port(api_url), modes=["reset", "reset"]) as proxy:
        result = materialize(proxy.url, target_url, partition_key=DAY)
    assert result.success
    assert proxy.connections[:3] == ["reset", "reset", "pass"]
    assert scalar(target_url, DAY_ROWS) == 1152
    after = table_snapshot(target_url)
    assert materialize(api_url, target_url, partition_key=DAY).success  # directly, no proxy
    assert table_snapshot(target_url) == after


@pytest.mark.parametrize(
    ("mode", "symptom"),
    [("cut", "without sending complete message body"), ("cut-reset", "reset by peer")],
)
def test_api_dying_mid_body_writes_no_partial_day(api_url, target_url, before, mode, symptom):
    with FaultyProxy(_port(api_url), then=mode) as proxy:
        result = materialize(proxy.url, target_url, partition_key=DAY, max_attempts=3)
    assert not result.success
    assert proxy.connections == [mode] * 3
    assert "unavailable after 3 attempts" in failure_text(result)
    assert symptom in failure_text(result)
    assert table_snapshot(target_url) == before

    # Cut once, then healthy: the retry reads the whole body and the day is complete.
    with FaultyProxy(_port(api_url), modes=[mode]) as proxy:
        result = materialize(proxy.url, target_url, partition_key=DAY)
    assert result.success
    assert proxy.connections[:2] == [mode, "pass"]
    assert scalar(target_url, DAY_ROWS) == 1152
    after = table_snapshot(target_url)
    assert materialize(api_url, target_url, partition_key=DAY).success
    assert table_snapshot(target_url) == after


def test_wind_etl_with_the_body_cut_fails_in_one_line(api_url, target_url, before):
    with FaultyProxy(_port(api_url), then="cut") as proxy:
        env = {"WIND_API_URL": proxy.url, "WIND_TARGET_DB_URL": target_url}
        result = start_loader([WIND_ETL, DAY], env).finish()
    assert result.returncode == 1
    assert "unavailable after 4 attempts" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert table_snapshot(target_url) == before
