"""The database failing under a request: a 503 JSON body, never a hang or a stack trace,
and the API recovers by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.helpers import seed
from wind_pipeline_tests.support.postgres import reader_url
from wind_stack.db_roles import READER_ROLE

DAY = {"start": "2024-01-01", "end": "2024-01-02", "format": "csv"}


@pytest.fixture(scope="module")
def one_day_source(new_database: Callable[[str], str]) -> str:
    url = new_database("faults")
    seed(url, generate_turbine_data(days=1))
    return url


@contextmanager
def table_locked(url: str) -> Iterator[sa.Connection]:
    """Hold an ACCESS EXCLUSIVE lock on `data`, so readers wait inside their query."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("LOCK TABLE data IN ACCESS EXCLUSIVE MODE"))
        try:
            yield conn
        finally:
            conn.rollback()
    engine.dispose()


def _request_in_background(url: str) -> tuple[threading.Thread, list[httpx.Response]]:
    result: list[httpx.Response] = []

    def run() -> None:
        result.append(httpx.get(f"{url}/data", params=DAY, timeout=30))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _waiting_reader_pid(admin: sa.Connection, database: str) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = admin.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE usename = :role AND datname = :db"
                " AND wait_event_type = 'Lock'"
            ),
            {"role": READER_ROLE, "db": database},
        ).scalar()
        if pid:
            return pid
        time.sleep(0.02)
    raise AssertionError("the API's query never started waiting")


def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "source database unavailable"}


def test_connection_killed_mid_query_gives_503_then_recovers(
    one_day_source: str, start_api: Callable[..., ApiServer]
):
    api = start_api(reader_url(one_day_source))
    database = sa.make_url(one_day_source).database
    admin_engine = sa.create_engine(
        one_day_source, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with table_locked(one_day_source), admin_engine.connect() as admin:
        thread, result = _request_in_background(api.url)
        pid = _waiting_reader_pid(admin, database)
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        thread.join(30)
    admin_engine.dispose()
    _assert_503(result[0])

    response = httpx.get(f"{api.url}/data", params=DAY)
    assert response.status_code == 200 and len(response.text.splitlines()) == 1441


def test_a_query_past_the_statement_timeout_gives_503(
    one_day_source: str, start_api: Callable[..., ApiServer]
):
    api = start_api(reader_url(one_day_source), WIND_API_STATEMENT_TIMEOUT_MS=300)
    with table_locked(one_day_source):
        response = httpx.get(f"{api.url}/data", params=DAY, timeout=30)
    _assert_503(response)
    assert httpx.get(f"{api.url}/data", params=DAY).status_code == 200


def test_unreachable_database_gives_503_on_every_database_route(
    start_api: Callable[..., ApiServer],
):
    from wind_stack.net import free_port

    api = start_api(f"postgresql+psycopg2://{READER_ROLE}@127.0.0.1:{free_port()}/nowhere")
    for path, params in [("/data", DAY), ("/coverage", None), ("/health", None)]:
        response = httpx.get(f"{api.url}{path}", params=params, timeout=30)
        assert response.status_code == 503, path
        assert "Traceback" not in response.text
    assert httpx.get(f"{api.url}/variables").status_code == 200  # needs no database
