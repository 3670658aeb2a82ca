"""NULL values and missing minutes, in every representation and through the ETL's client."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.helpers import execute, seed
from wind_pipeline_tests.support.postgres import reader_url

WINDOW = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:06:00Z"}


@pytest.fixture(scope="module")
def api_with_holes(new_database: Callable[[str], str], start_api: Callable[..., ApiServer]) -> str:
    """Minute 00:01 has no power, 00:03 has no wind speed, 00:04 is missing altogether."""
    url = new_database("holes")
    seed(url, generate_turbine_data(days=1))
    execute(url, "UPDATE data SET power = NULL WHERE timestamp = '2024-01-01T00:01Z'")
    execute(url, "UPDATE data SET wind_speed = NULL WHERE timestamp = '2024-01-01T00:03Z'")
    execute(url, "DELETE FROM data WHERE timestamp = '2024-01-01T00:04Z'")
    return start_api(reader_url(url)).url


def test_records_and_columns_carry_null(api_with_holes: str):
    params = {**WINDOW, "variables": ["wind_speed", "power"]}
    records = httpx.get(f"{api_with_holes}/data", params=params).json()
    assert records["row_count"] == 5
    assert [r["timestamp"][11:16] for r in records["data"]] == [
        "00:00",
        "00:01",
        "00:02",
        "00:03",
        "00:05",
    ]
    assert records["data"][1]["power"] is None and records["data"][3]["wind_speed"] is None
    columns = httpx.get(f"{api_with_holes}/data", params={**params, "format": "columns"}).json()
    assert columns["data"]["power"][1] is None and columns["data"]["wind_speed"][3] is None
    assert sum(v is None for v in columns["data"]["power"] + columns["data"]["wind_speed"]) == 2


def test_csv_writes_null_as_an_empty_field(api_with_holes: str):
    params = {**WINDOW, "variables": ["wind_speed", "power"], "format": "csv"}
    lines = httpx.get(f"{api_with_holes}/data", params=params).text.splitlines()
    assert len(lines) == 6
    assert lines[2].startswith("2024-01-01 00:01:00+00,") and lines[2].endswith(",")
    assert lines[4].startswith("2024-01-01 00:03:00+00,,")
    assert all(line.count(",") == 2 for line in lines)


def test_client_reads_null_as_nan(api_with_holes: str):
    with ConektorSession(api_with_holes) as session:
        frame = session.fetch_window(
            datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 6, tzinfo=UTC), ["power"]
        )
    assert len(frame) == 5 and str(frame["power"].dtype) == "float64"
    assert math.isnan(frame["power"].iloc[1])
    assert frame["power"].isna().sum() == 1


def test_coverage_counts_the_missing_minute(api_with_holes: str):
    body = httpx.get(f"{api_with_holes}/coverage").json()
    assert body["row_count"] == 1439 and body["missing_minutes"] == 1
