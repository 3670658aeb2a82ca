"""Only ISO-8601 is a time, and `[start, end)` holds to the last digit of a fraction."""

from __future__ import annotations

import httpx
import pytest

DAY = {"start": "2024-01-05T00:00:00Z", "end": "2024-01-06T00:00:00Z"}

# Unix seconds, milliseconds, a compact date, a negative and a fractional epoch: pydantic
# alone reads every one of them as a Unix time.
NUMBERS = ["20240105", "1704412800", "1704412800000", "1704412800.5", "-1", "0"]


@pytest.mark.parametrize("field", ["start", "end", "cursor"])
@pytest.mark.parametrize("value", NUMBERS)
def test_numbers_are_not_times(api: httpx.Client, field: str, value: str):
    response = api.get("/data", params={**DAY, "limit": "10", field: value})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", field]
    # the message names the accepted forms
    assert "ISO-8601" in error["msg"] and "2024-01-05T00:00:00Z" in error["msg"]
    assert "Unix" in error["msg"]


def test_the_issues_compact_dates_get_422_not_a_1970_window(api: httpx.Client):
    response = api.get("/data", params={"start": "20240105", "end": "20240106"})
    assert response.status_code == 422
    assert "1970" not in response.text


@pytest.mark.parametrize(
    "value", ["2024-01-05", "2024-01-05T00:00", "2024-01-05 00:00:00", "2024-01-05T01:00+01:00"]
)
def test_iso_forms_are_still_times(api: httpx.Client, value: str):
    response = api.get("/data", params={"start": value, "end": "2024-01-05T00:02Z"})
    assert response.status_code == 200, response.text
    assert response.json()["row_count"] == 2


def test_openapi_names_the_accepted_forms(api: httpx.Client):
    operation = api.get("/openapi.json").json()["paths"]["/data"]["get"]
    described = {p["name"]: p["description"] for p in operation["parameters"]}
    for name in ("start", "end"):
        assert "ISO-8601" in described[name] and "Unix" in described[name]
    assert "Unix" in operation["description"]


def _times(api: httpx.Client, **params: str) -> list[str]:
    response = api.get("/data", params={"variables": "power", **params})
    assert response.status_code == 200, response.text
    return [row["timestamp"][11:26] for row in response.json()["data"]]


def test_a_sub_microsecond_start_excludes_the_row_before_it(api: httpx.Client):
    # 00:00:00.0000001 is after the 00:00 row: [start, end) must not return it.
    times = _times(api, start="2024-01-05T00:00:00.0000001Z", end="2024-01-05T00:03:00Z")
    assert times == ["00:01:00+00:00", "00:02:00+00:00"]
    times = _times(api, start="2024-01-05T00:00:00.000000000Z", end="2024-01-05T00:01:00Z")
    assert times == ["00:00:00+00:00"]  # trailing zeros change nothing


def test_a_sub_microsecond_end_includes_the_row_before_it(api: httpx.Client):
    times = _times(api, start="2024-01-05T00:00:00Z", end="2024-01-05T00:01:00.000000001Z")
    assert times == ["00:00:00+00:00", "00:01:00+00:00"]
    times = _times(api, start="2024-01-05T00:00:00Z", end="2024-01-05T00:01:00.0000000Z")
    assert times == ["00:00:00+00:00"]


def test_a_sub_microsecond_cursor_means_strictly_after_it(api: httpx.Client):
    times = _times(
        api,
        start="2024-01-05T00:00:00Z",
        end="2024-01-05T00:03:00Z",
        limit="10",
        cursor="2024-01-05T00:00:00.0000001Z",
    )
    assert times == ["00:01:00+00:00", "00:02:00+00:00"]


def test_the_rounded_range_is_what_the_response_states(api: httpx.Client):
    body = api.get(
        "/data",
        params={"start": "2024-01-05T00:00:00.0000001Z", "end": "2024-01-05T00:01:00.1234561Z"},
    ).json()
    assert body["start"] == "2024-01-05T00:00:00.000001+00:00"
    assert body["end"] == "2024-01-05T00:01:00.123457+00:00"


def test_rounding_past_the_last_microsecond_gets_422(api: httpx.Client):
    response = api.get(
        "/data", params={"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:59:59.9999999Z"}
    )
    assert response.status_code == 422
    assert "out of range" in response.text


def test_openapi_states_how_fractions_are_rounded(api: httpx.Client):
    description = api.get("/openapi.json").json()["paths"]["/data"]["get"]["description"]
    assert "rounded up to the next microsecond" in description
