"""The Conektor API against real PostgreSQL, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest

DAY = {"start": "2024-01-05T00:00:00Z", "end": "2024-01-06T00:00:00Z"}


def _params(**extra) -> list[tuple[str, str]]:
    params = list(DAY.items())
    for key, value in extra.items():
        values = value if isinstance(value, list) else [value]
        params += [(key, v) for v in values]
    return params


def test_one_day_two_variables_records(api: httpx.Client):
    response = api.get("/data", params=_params(variables=["wind_speed", "power"]))
    assert response.status_code == 200
    body = response.json()
    assert body["row_count"] == 1440 and len(body["data"]) == 1440
    assert body["variables"] == ["wind_speed", "power"]
    first, last = body["data"][0], body["data"][-1]
    assert set(first) == {"timestamp", "wind_speed", "power"}
    assert first["timestamp"] == "2024-01-05T00:00:00+00:00"
    assert last["timestamp"] == "2024-01-05T23:59:00+00:00"  # end is exclusive
    timestamps = [row["timestamp"] for row in body["data"]]
    assert timestamps == sorted(timestamps)


def test_columns_layout_and_all_variables_by_default(api: httpx.Client):
    body = api.get("/data", params=_params(format="columns")).json()
    assert body["variables"] == ["wind_speed", "power", "ambient_temperature"]
    assert set(body["data"]) == {"timestamp", "wind_speed", "power", "ambient_temperature"}
    assert all(len(column) == 1440 for column in body["data"].values())


def test_one_variable(api: httpx.Client):
    body = api.get("/data", params=_params(variables="power")).json()
    assert set(body["data"][0]) == {"timestamp", "power"}


def test_naive_times_are_utc_and_offsets_are_honoured(api: httpx.Client):
    naive = api.get(
        "/data", params={"start": "2024-01-05T00:00:00", "end": "2024-01-05T01:00:00"}
    ).json()
    offset = api.get(
        "/data", params={"start": "2024-01-05T01:00:00+01:00", "end": "2024-01-05T02:00:00+01:00"}
    ).json()
    assert naive["row_count"] == offset["row_count"] == 60
    assert naive["data"] == offset["data"]
    assert offset["start"] == "2024-01-05T00:00:00+00:00"


def test_empty_range_outside_the_period(api: httpx.Client):
    body = api.get("/data", params={"start": "2030-01-01", "end": "2030-01-02"}).json()
    assert body["row_count"] == 0 and body["data"] == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2024-01-06", "end": "2024-01-05"}, "must be after start"),
        ({"start": "2024-01-05", "end": "2024-01-05"}, "must be after start"),
        ({"start": "yesterday", "end": "2024-01-05"}, "ISO-8601"),
        ({"start": "2024-01-05", "end": "2024-01-06", "variables": "rotor_speed"}, "wind_speed"),
        (
            {"start": "2024-01-05", "end": "2024-01-06", "variables": "power; DROP TABLE data"},
            "power",
        ),
        ({"start": "2024-01-05", "end": "2024-01-06", "variables": ""}, "wind_speed"),
        ({"end": "2024-01-06"}, "start"),
        ({"start": "2024-01-01", "end": "2025-01-01"}, "at most"),
        ({"start": "2024-01-05", "end": "2024-01-06", "format": "xml"}, "records"),
    ],
)
def test_bad_input_gets_422_saying_what_is_wrong(api: httpx.Client, params, fragment):
    response = api.get("/data", params=params)
    assert response.status_code == 422
    assert fragment in response.text
    assert "Traceback" not in response.text


def test_coverage_states_the_period(api: httpx.Client):
    body = api.get("/coverage").json()
    assert body == {
        "first_timestamp": "2024-01-01T00:00:00Z",
        "last_timestamp": "2024-01-10T23:59:00Z",
        "row_count": 14400,
        "minutes_present": 14400,
        "expected_minutes": 14400,
        "missing_minutes": 0,
        "out_of_range_rows": 0,
    }


def test_variables_and_health(api: httpx.Client):
    assert {v["name"]: v["unit"] for v in api.get("/variables").json()} == {
        "wind_speed": "m/s",
        "power": "kW",
        "ambient_temperature": "degC",
    }
    assert api.get("/health").json() == {"status": "ok", "database": "ok"}
    assert "server" not in api.get("/health").headers


def test_openapi_documents_every_data_parameter(api: httpx.Client):
    spec = api.get("/openapi.json").json()
    parameters = spec["paths"]["/data"]["get"]["parameters"]
    assert {p["name"] for p in parameters} == {
        "start",
        "end",
        "variables",
        "format",
        "limit",
        "cursor",
    }
    assert all(p.get("description") for p in parameters)
    assert all(p.get("examples") or p["schema"].get("examples") for p in parameters)
    responses = spec["paths"]["/data"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/csv"}
    assert "Link" in responses["200"]["headers"]
    assert {"422", "503"} <= set(responses)


def test_database_down_gives_503_and_recovers(tmp_path, start_api: Callable):
    from wind_pipeline.source_data import generate_turbine_data, seed_source
    from wind_stack.net import free_port
    from wind_stack.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), durable=False)
    server.start()
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(server.url())
        seed_source(engine, generate_turbine_data(days=1))
        engine.dispose()
        api = start_api(server.url())
        with httpx.Client(base_url=api.url, timeout=30) as client:
            day = {"start": "2024-01-01", "end": "2024-01-02"}
            assert client.get("/data", params=day).status_code == 200

            server.stop()
            for path in ("/data", "/health", "/coverage"):
                response = client.get(path, params=day if path == "/data" else None)
                assert response.status_code == 503, path
                assert response.headers["content-type"] == "application/json"
                assert "Traceback" not in response.text

            server.start()
            response = client.get("/data", params=day)
            assert response.status_code == 200 and response.json()["row_count"] == 1440
            assert client.get("/health").status_code == 200
    finally:
        server.stop()


# -- representations ---------------------------------------------------------------------


def _csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.splitlines()]


def test_csv_has_a_header_and_the_same_rows_as_records(api: httpx.Client):
    records = api.get("/data", params=_params(variables=["wind_speed", "power"])).json()["data"]
    response = api.get("/data", params=_params(variables=["wind_speed", "power"], format="csv"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = _csv_rows(response.text)
    assert header == ["timestamp", "wind_speed", "power"]
    assert len(rows) == 1440
    assert rows[0][0] == "2024-01-05 00:00:00+00" and rows[-1][0] == "2024-01-05 23:59:00+00"
    for row, record in zip(rows, records, strict=True):
        assert datetime.fromisoformat(row[0]) == datetime.fromisoformat(record["timestamp"])
        assert [float(row[1]), float(row[2])] == [record["wind_speed"], record["power"]]


def test_columns_hold_the_same_values_as_records(api: httpx.Client):
    variables = ["power", "ambient_temperature"]
    records = api.get("/data", params=_params(variables=variables)).json()["data"]
    columns = api.get("/data", params=_params(variables=variables, format="columns")).json()
    assert columns["variables"] == variables
    for name in ["timestamp", *variables]:
        assert columns["data"][name] == [record[name] for record in records]


def test_accept_text_csv_selects_csv_unless_format_says_otherwise(api: httpx.Client):
    as_csv = api.get("/data", params=_params(variables="power"), headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.startswith("timestamp,power\n")
    explicit = api.get(
        "/data", params=_params(variables="power", format="records"), headers={"Accept": "text/csv"}
    )
    assert explicit.headers["content-type"] == "application/json"
    default = api.get("/data", params=_params(variables="power"), headers={"Accept": "*/*"})
    assert default.json()["row_count"] == 1440


def test_empty_range_in_every_representation(api: httpx.Client):
    outside = {"start": "2030-01-01", "end": "2030-01-02", "variables": "power"}
    assert api.get("/data", params={**outside, "format": "csv"}).text == "timestamp,power\n"
    columns = api.get("/data", params={**outside, "format": "columns"}).json()
    assert columns["data"] == {"timestamp": [], "power": []} and columns["next"] is None


# -- paging ------------------------------------------------------------------------------


def _walk(api: httpx.Client, params: list[tuple[str, str]]) -> list[httpx.Response]:
    responses = [api.get("/data", params=params)]
    while "next" in responses[-1].links:
        assert len(responses) < 100, "paging does not end"
        responses.append(api.get(responses[-1].links["next"]["url"]))
    return responses


@pytest.mark.parametrize("layout", ["records", "columns", "csv"])
def test_paging_a_day_by_100_rows_gives_every_row_once_in_order(api: httpx.Client, layout):
    whole = api.get("/data", params=_params(variables=["power"])).json()["data"]
    pages = _walk(api, _params(variables=["power"], format=layout, limit="100"))
    assert len(pages) == 15  # 14 full pages and 40 rows
    if layout == "csv":
        rows = [row for page in pages for row in _csv_rows(page.text)[1:]]
        timestamps = [datetime.fromisoformat(row[0]) for row in rows]
        values = [float(row[1]) for row in rows]
    else:
        bodies = [page.json() for page in pages]
        assert [b["row_count"] for b in bodies] == [100] * 14 + [40]
        assert all(
            b["next"] == page.links["next"]["url"]
            for b, page in zip(bodies[:-1], pages[:-1], strict=True)
        )
        assert bodies[-1]["next"] is None
        if layout == "records":
            rows = [row for body in bodies for row in body["data"]]
            timestamps = [datetime.fromisoformat(row["timestamp"]) for row in rows]
            values = [row["power"] for row in rows]
        else:
            timestamps = [datetime.fromisoformat(t) for b in bodies for t in b["data"]["timestamp"]]
            values = [v for body in bodies for v in body["data"]["power"]]
    assert timestamps == [datetime.fromisoformat(row["timestamp"]) for row in whole]
    assert values == [row["power"] for row in whole]
    assert "link" not in pages[-1].headers


def test_a_page_ending_exactly_at_the_last_row_has_no_next(api: httpx.Client):
    body = api.get("/data", params=_params(limit="1440")).json()
    assert body["row_count"] == 1440 and body["next"] is None


def test_cursor_returns_only_rows_strictly_after_it(api: httpx.Client):
    body = api.get("/data", params=_params(cursor="2024-01-05T23:57:00Z", variables="power")).json()
    assert [row["timestamp"] for row in body["data"]] == [
        "2024-01-05T23:58:00+00:00",
        "2024-01-05T23:59:00+00:00",
    ]
    naive = api.get("/data", params=_params(cursor="2024-01-06T00:57:00+01:00")).json()
    assert naive["row_count"] == 2


def test_with_limit_a_range_longer_than_the_maximum_is_paged(api: httpx.Client):
    year = {"start": "2024-01-01", "end": "2025-01-01", "variables": "power"}
    assert api.get("/data", params=year).status_code == 422  # unpaged: at most 31 days
    body = api.get("/data", params={**year, "limit": "10000"}).json()
    assert body["row_count"] == 10000 and body["next"]
    last = api.get(body["next"]).json()
    assert last["row_count"] == 4400 and last["next"] is None
    assert last["data"][-1]["timestamp"] == "2024-01-10T23:59:00+00:00"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"limit": "0"}, "greater than or equal to 1"),
        ({"limit": "100001"}, "less than or equal to 100000"),
        ({"limit": "many"}, "integer"),
        ({"cursor": "the last one"}, "datetime"),
        ({"cursor": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ],
)
def test_bad_page_parameters_get_422(api: httpx.Client, extra, fragment):
    response = api.get("/data", params={**DAY, **extra})
    assert response.status_code == 422
    assert fragment in response.text


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+01:00", "2024-01-05T00:00:00Z"),  # before year 1 in UTC
        ("2024-01-05T00:00:00Z", "9999-12-31T23:59:59-01:00"),  # after year 9999 in UTC
    ],
)
def test_times_out_of_range_once_in_utc_get_422(api: httpx.Client, start, end):
    response = api.get("/data", params={"start": start, "end": end, "limit": "10"})
    assert response.status_code == 422
    assert "out of range" in response.text


@pytest.mark.parametrize(
    "value", ["10000-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-05T25:00:00Z"]
)
def test_unparseable_times_get_422(api: httpx.Client, value):
    response = api.get("/data", params={"start": value, "end": "2024-01-06"})
    assert response.status_code == 422
    assert "start" in response.text


def test_repeated_variables_are_returned_once(api: httpx.Client):
    body = api.get("/data", params=_params(variables=["power", "power", "wind_speed"])).json()
    assert body["variables"] == ["power", "wind_speed"]


# -- the ETL's client --------------------------------------------------------------------


def test_client_reads_a_day_in_one_csv_request_equal_to_the_json_columns(api_url, api):
    from wind_pipeline.etl.conektor_client import ConektorSession

    start = datetime(2024, 1, 5, tzinfo=UTC)
    with ConektorSession(api_url) as session:
        frame = session.fetch_window(start, start + timedelta(days=1), ["wind_speed", "power"])
        assert session.stats.requests == 1
    columns = api.get(
        "/data", params=_params(variables=["wind_speed", "power"], format="columns")
    ).json()["data"]
    expected = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(columns["timestamp"], utc=True, format="ISO8601"),
            "wind_speed": np.array(columns["wind_speed"], dtype="float64"),
            "power": np.array(columns["power"], dtype="float64"),
        }
    )
    pd.testing.assert_frame_equal(frame, expected)  # exact: floats round-trip through text


def test_client_follows_pages_and_gets_the_same_frame(api_url):
    from wind_pipeline.etl.conektor_client import ConektorSession

    start, end = datetime(2024, 1, 2, 12, tzinfo=UTC), datetime(2024, 1, 4, 7, 30, tzinfo=UTC)
    with ConektorSession(api_url) as session:
        whole = session.fetch_window(start, end, ["power", "wind_speed"])
    with ConektorSession(api_url, page_rows=333) as session:
        paged = session.fetch_window(start, end, ["power", "wind_speed"])
        assert session.stats.requests == -(-len(whole) // 333)
    assert len(whole) == 2610
    pd.testing.assert_frame_equal(paged, whole)
