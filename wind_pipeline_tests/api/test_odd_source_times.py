"""Source timestamps PostgreSQL stores but Python cannot hold (year 10000, BC dates,
+/-infinity): no route answers 5xx, /coverage leaves them out of the period and counts them,
the API's log holds no traceback, and `wind-etl` for an empty day says "no source data"."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from wind_pipeline_tests.support.helpers import execute, seed
from wind_pipeline_tests.support.postgres import reader_url

# The case (psycopg2 cannot read them), and the infinities (psycopg2 reads them as
# datetime.max/min, which /coverage once reported as the period's edges).
ODD_TIMES = {
    "year-10000-and-bc": ["10000-01-01 00:00:00+00", "0044-03-15 00:00:00+00 BC"],
    "infinities": ["infinity", "-infinity"],
}

REQUESTS = [
    ("GET", "/coverage", {}),
    ("GET", "/health", {}),
    ("GET", "/variables", {}),
    ("GET", "/data", {"start": "2024-01-05", "end": "2024-01-06"}),
    ("GET", "/data", {"start": "2024-01-05", "end": "2024-01-06", "format": "csv"}),
    # the whole calendar Python can write, page by page, from both edges
    ("GET", "/data", {"start": "0001-01-01", "end": "9999-12-31T23:59:59.999999Z", "limit": "5"}),
    ("GET", "/data", {"start": "9999-12-31", "end": "9999-12-31T23:59:59.999999", "limit": "5"}),
    ("GET", "/data", {"start": "0001-01-01", "end": "0001-01-02", "format": "columns"}),
    (
        "GET",
        "/data",
        {
            "start": "0001-01-01",
            "end": "9999-12-31",
            "limit": "5",
            "cursor": "2024-01-05T23:58:00Z",
        },
    ),
]


@pytest.fixture(scope="module", params=list(ODD_TIMES))
def odd_source(request: pytest.FixtureRequest, new_database: Callable[[str], str]) -> str:
    """One normal day (2024-01-05) plus a row at each odd time; the API's read-only URL."""
    from wind_pipeline.source_data import generate_turbine_data

    url = new_database("oddtimes")
    seed(url, generate_turbine_data(start=datetime(2024, 1, 5, tzinfo=UTC), days=1))
    for value in ODD_TIMES[request.param]:
        execute(url, "INSERT INTO data VALUES (CAST(:t AS timestamptz), 1, 2, 3)", t=value)
    return reader_url(url)


def test_no_route_answers_5xx_and_the_log_holds_no_traceback(odd_source, serve_api_process):
    api = serve_api_process(odd_source)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for method, path, params in REQUESTS:
            response = client.request(method, path, params=params)
            assert response.status_code == 200, (path, params, response.text)
        page = client.get("/data", params=REQUESTS[5][2]).json()
        assert page["data"][0]["timestamp"] == "2024-01-05T00:00:00+00:00"
        assert page["next"] is not None
    log = api.log_text()
    assert "Traceback" not in log and "500 Internal Server Error" not in log, log
    assert '"GET /coverage HTTP/1.1" 200' in log  # the log is the API's access log


def test_coverage_leaves_them_out_of_the_period_and_counts_them(odd_source, start_api):
    body = httpx.get(f"{start_api(odd_source).url}/coverage").json()
    assert body["first_timestamp"] == "2024-01-05T00:00:00Z"
    assert body["last_timestamp"] == "2024-01-05T23:59:00Z"
    assert body["row_count"] == 1440 and body["missing_minutes"] == 0
    assert body["out_of_range_rows"] == 2


def test_wind_etl_for_an_empty_day_says_no_source_data(
    odd_source, start_api, target_url: str, tmp_path: Path
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIND_")}
    env.update(WIND_API_URL=start_api(odd_source).url, WIND_TARGET_DB_URL=target_url)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "wind-etl"), "2024-01-07"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "no source data" in output and "2024-01-05" in output, output
    assert "unavailable" not in output, output
