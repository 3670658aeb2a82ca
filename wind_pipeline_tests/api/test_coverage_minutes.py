"""/coverage counts whole minutes, not rows: a row off the minute cannot hide a missing one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from wind_pipeline_tests.support.helpers import execute, scalar, seed
from wind_pipeline_tests.support.postgres import reader_url


@pytest.fixture(scope="module")
def day_with_an_off_minute_row(new_database: Callable[[str], str]) -> str:
    """2024-01-05 without 12:01 and 12:02, with 12:00:30, 12:00:45 and 12:02:30 added."""
    from wind_pipeline.source_data import generate_turbine_data

    url = new_database("offminute")
    seed(url, generate_turbine_data(start=datetime(2024, 1, 5, tzinfo=UTC), days=1))
    execute(url, "DELETE FROM data WHERE timestamp IN ('2024-01-05 12:01Z', '2024-01-05 12:02Z')")
    for extra in ("2024-01-05 12:00:30Z", "2024-01-05 12:00:45Z", "2024-01-05 12:02:30Z"):
        execute(url, "INSERT INTO data VALUES (CAST(:t AS timestamptz), 1, 2, 3)", t=extra)
    return reader_url(url)


def test_an_extra_row_at_12_00_30_does_not_hide_the_missing_12_01(
    day_with_an_off_minute_row: str, start_api
):
    body = httpx.get(f"{start_api(day_with_an_off_minute_row).url}/coverage").json()
    assert body["row_count"] == 1440 - 2 + 3
    assert body["expected_minutes"] == 1440
    # 12:00 holds three rows, 12:01 none, 12:02 one (at 12:02:30)
    assert body["minutes_present"] == 1439
    assert body["missing_minutes"] == 1


def test_the_minutes_agree_with_postgresql_counting_them(
    day_with_an_off_minute_row: str, start_api
):
    body = httpx.get(f"{start_api(day_with_an_off_minute_row).url}/coverage").json()
    present = scalar(
        day_with_an_off_minute_row,
        "SELECT count(DISTINCT date_trunc('minute', timestamp AT TIME ZONE 'UTC')) FROM data",
    )
    assert body["minutes_present"] == present


def test_an_off_minute_first_or_last_row_spans_its_whole_minute(
    new_database: Callable[[str], str], start_api
):
    url = new_database("offedges")
    for value in ("2024-01-05 00:00:30Z", "2024-01-05 00:01:00Z", "2024-01-05 00:03:59.5Z"):
        execute(
            url,
            "CREATE TABLE IF NOT EXISTS data (timestamp timestamptz PRIMARY KEY, "
            "wind_speed float8, power float8, ambient_temperature float8)",
        )
        execute(url, "INSERT INTO data VALUES (CAST(:t AS timestamptz), 1, 2, 3)", t=value)
    body = httpx.get(f"{start_api(reader_url(url)).url}/coverage").json()
    # minutes 00:00 .. 00:03: 00:00, 00:01 and 00:03 present, 00:02 missing
    assert (body["expected_minutes"], body["minutes_present"], body["missing_minutes"]) == (4, 3, 1)
