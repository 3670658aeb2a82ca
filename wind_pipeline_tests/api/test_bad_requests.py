"""Abuse of the Conektor API: injection attempts, huge ranges, absurd times, repeated and
very long parameters. Each gets a clear 4xx (no stack trace), the Source is unharmed, and
the server keeps serving.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from wind_pipeline_tests.support.helpers import scalar

DAY = [("start", "2024-01-05T00:00:00Z"), ("end", "2024-01-06T00:00:00Z")]
INJECTIONS = [
    "power; DROP TABLE data",
    "power' OR '1'='1",
    'power"; DROP TABLE data; --',
    "power) FROM data; DELETE FROM data; --",
    "power,wind_speed",
    "timestamp",
    "ambient_temperature::text",
    "pg_sleep(5)",
    "*",
    "power\x00",
    "pοwer",  # a Greek omicron
]


def _assert_clean_error(response: httpx.Response, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert "sqlalchemy" not in response.text.lower() and "psycopg" not in response.text.lower()


@pytest.fixture
def source_intact(source_url: str, api: httpx.Client):
    yield
    assert scalar(source_url, "SELECT count(*) FROM data") == 14_400
    assert api.get("/health").status_code == 200


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_variables_is_refused(api: httpx.Client, source_intact, payload):
    response = api.get("/data", params=[*DAY, ("variables", payload)])
    _assert_clean_error(response)
    assert "wind_speed" in response.text  # the message lists the allowed variables


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("start", "2024-01-05'; DROP TABLE data; --"),
        ("end", "2024-01-06 OR 1=1"),
        ("format", "columns'; DELETE FROM data; --"),
    ],
)
def test_injection_in_other_parameters_is_refused(api: httpx.Client, source_intact, field, payload):
    params = dict(DAY) | {field: payload}
    _assert_clean_error(api.get("/data", params=params))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
        ("2024-01-01T00:00:00Z", "2024-02-01T00:00:01Z"),  # one second over 31 days
    ],
)
def test_huge_ranges_are_refused(api: httpx.Client, source_intact, start, end):
    response = api.get("/data", params={"start": start, "end": end})
    _assert_clean_error(response)
    assert "at most" in response.text


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("10000-01-01", "10000-01-02"),
        ("2024-02-30", "2024-03-01"),
        ("2024-01-05T25:00", "2024-01-06"),
        ("1e20", "2024-01-06"),
        ("-1e10", "2024-01-06"),
        ("NaN", "2024-01-06"),
        ("infinity", "2024-01-06"),
    ],
)
def test_absurd_timestamps_are_refused(api: httpx.Client, source_intact, start, end):
    _assert_clean_error(api.get("/data", params={"start": start, "end": end}))


def test_the_first_years_are_valid_and_empty(api: httpx.Client):
    body = api.get("/data", params={"start": "0001-01-01", "end": "0001-01-02"}).json()
    assert body["row_count"] == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T23:00:00-05:00", "9999-12-31T23:30:00-05:00"),
        ("0001-01-01T00:00:00+01:00", "0001-01-01T05:00:00+01:00"),
    ],
)
def test_times_that_overflow_in_utc_get_a_422(api_url: str, start, end):
    with httpx.Client(base_url=api_url) as fresh:
        response = fresh.get("/data", params={"start": start, "end": end})
    _assert_clean_error(response)


def test_times_that_overflow_in_utc_leak_no_stack_trace(api_url: str):
    with httpx.Client(base_url=api_url) as fresh:
        response = fresh.get(
            "/data", params={"start": "9999-12-31T23:00-05:00", "end": "9999-12-31T23:30-05:00"}
        )
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text and "OverflowError" not in response.text
    assert "server" not in response.headers


@pytest.mark.parametrize("name", ["start", "end", "format"])
def test_a_repeated_single_valued_parameter_is_refused(api: httpx.Client, name):
    values = {"start": "2024-01-04T00:00Z", "end": "2024-01-05T12:00Z", "format": "columns"}
    params = [*DAY, ("format", "records"), (name, values[name])]
    _assert_clean_error(api.get("/data", params=params))


def test_repeated_variables_are_served_once(api: httpx.Client):
    params = [*DAY] + [("variables", "power")] * 500 + [("variables", "wind_speed")]
    body = api.get("/data", params=[*params, ("format", "columns")]).json()
    assert body["variables"] == ["power", "wind_speed"]
    assert set(body["data"]) == {"timestamp", "power", "wind_speed"}


def _raw_get(api_url: str, target: str) -> bytes:
    """One HTTP/1.1 request over a raw socket: httpx refuses URLs this long itself."""
    address = urlsplit(api_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


@pytest.mark.parametrize("size", [100_000, 2_000_000])
def test_very_long_query_strings_get_a_4xx_and_the_server_lives_on(
    api_url: str, api: httpx.Client, size
):
    query = "start=2024-01-05&end=2024-01-06&" + "variables=power&" * (size // 16)
    response = _raw_get(api_url, f"/data?{query}")
    status_line, _, rest = response.partition(b"\r\n")
    status = int(status_line.split()[1])
    # The HTTP server refuses a request line it cannot hold (uvicorn: "Invalid HTTP request").
    assert status == 400, status_line
    assert b"Traceback" not in rest and b"server:" not in rest.lower().split(b"\r\n\r\n")[0]
    assert api.get("/health").status_code == 200
