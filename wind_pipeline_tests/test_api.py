"""The Conektor API against real PostgreSQL, over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
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
        ({"start": "yesterday", "end": "2024-01-05"}, "datetime"),
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
        "expected_minutes": 14400,
        "missing_minutes": 0,
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
    assert {p["name"] for p in parameters} == {"start", "end", "variables", "format"}
    assert all(p.get("description") for p in parameters)


def test_database_down_gives_503_and_recovers(tmp_path, start_api: Callable):
    from wind_pipeline.local_stack import EmbeddedPostgres, free_port
    from wind_pipeline.source_data import generate_turbine_data, seed_source

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
