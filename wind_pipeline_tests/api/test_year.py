"""A full year of one-minute data (525,600 rows) read through the API, page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest

from wind_pipeline.etl.conektor_client import ConektorSession
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.helpers import seed
from wind_pipeline_tests.support.postgres import reader_url

YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
YEAR_ROWS = 365 * 1440


@pytest.fixture(scope="module")
def year_api(new_database: Callable[[str], str], start_api: Callable[..., ApiServer]) -> str:
    url = new_database("year")
    seed(url, generate_turbine_data(days=365))
    return start_api(reader_url(url)).url


def _check_year(timestamps: pd.DatetimeIndex) -> None:
    assert len(timestamps) == YEAR_ROWS
    assert timestamps.is_monotonic_increasing and timestamps.is_unique  # in order, no duplicates
    assert timestamps[0] == YEAR_START
    assert timestamps[-1] == YEAR_START + timedelta(days=365, minutes=-1)
    # every minute of the year is there
    assert (np.diff(timestamps.asi8) == np.diff(timestamps.asi8)[0]).all()


def test_cursor_walk_of_a_year_in_json_gives_every_row_once(year_api: str):
    params = {
        "start": "2024-01-01T00:00:00Z",
        "end": "2025-01-01T00:00:00Z",
        "variables": "power",
        "format": "columns",
        "limit": "100000",
    }
    timestamps: list[str] = []
    url: str | None = f"{year_api}/data"
    pages = 0
    with httpx.Client(timeout=60) as client:
        response = client.get(url, params=params)
        while True:
            assert response.status_code == 200
            body = response.json()
            pages += 1
            assert body["row_count"] == len(body["data"]["timestamp"]) == len(body["data"]["power"])
            timestamps += body["data"]["timestamp"]
            if body["next"] is None:
                break
            assert pages < 10
            response = client.get(body["next"])
    assert pages == 6  # 5 full pages of 100,000 and 25,600 rows
    _check_year(pd.DatetimeIndex(pd.to_datetime(timestamps, utc=True, format="ISO8601")))


def test_the_etl_client_reads_a_year_in_csv_pages(year_api: str):
    with ConektorSession(year_api) as session:
        frame = session.fetch_window(
            YEAR_START, YEAR_START + timedelta(days=366), ["wind_speed", "power"]
        )
        assert session.stats.requests == 6
    _check_year(pd.DatetimeIndex(frame["timestamp"]))
    assert frame[["wind_speed", "power"]].notna().all().all()
    expected = generate_turbine_data(days=365)
    assert np.array_equal(frame["power"].to_numpy(), expected["power"].to_numpy())
