"""The Source container's pieces, run natively: the init script that creates the Conektor's
read-only role, the PostgreSQL healthcheck, and the API's command and healthcheck using that role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.deployment import (
    NativeProcess,
    compose_config,
    image_environment,
    native_command,
    run_command,
    service_environment,
)
from wind_pipeline_tests.support.helpers import REPO_ROOT, seed
from wind_stack.net import free_port
from wind_stack.postgres import pg_bin_dir

INIT_SCRIPT = REPO_ROOT / "docker" / "source-db" / "10-conektor-reader.sh"
READER_ROLE_SQL = REPO_ROOT / "api_service" / "sql" / "reader_role.sql"
READER_PASSWORD = "reader-password-for-tests"


def _postgres_container_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment the postgres image gives its init scripts and healthcheck, plus the
    libpq variables that make `psql`/`pg_isready` reach the test server over TCP."""
    url = sa.make_url(database_url)
    env = {
        "PATH": f"{pg_bin_dir()}:/usr/bin:/bin",
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.database,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        # Where the image bakes the shared SQL file; here, the repo's copy.
        "READER_ROLE_SQL": str(READER_ROLE_SQL),
        **extra,
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _run_init_script(database_url: str, **extra: str):
    env = _postgres_container_env(database_url, **extra)
    return run_command(["bash", str(INIT_SCRIPT)], env, cwd=Path("/"), timeout=60)


@pytest.fixture(scope="module")
def source_with_reader(new_database: Callable[[str], str]) -> dict[str, str]:
    """A Source database as the container makes it: init script first, then `source_seed`'s
    table (created later, by the owner) filled with the default period."""
    owner_url = new_database("compose_source")
    result = _run_init_script(owner_url, CONEKTOR_READER_PASSWORD=READER_PASSWORD)
    assert result.returncode == 0, result.stderr
    seed(owner_url, generate_turbine_data())
    reader_url = (
        sa.make_url(owner_url)
        .set(username="conektor_reader", password=READER_PASSWORD)
        .render_as_string(hide_password=False)
    )
    return {"owner": owner_url, "reader": reader_url}


def test_the_reader_role_can_read_data_and_nothing_else(source_with_reader):
    reader = sa.create_engine(source_with_reader["reader"], poolclass=sa.pool.NullPool)
    try:
        with reader.connect() as conn:
            # The init script created the table; source_seed's DELETE + COPY kept the grant.
            assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400
        for statement in (
            "INSERT INTO data (timestamp) VALUES ('2030-01-01Z')",
            "DELETE FROM data",
            "UPDATE data SET power = 0",
            "TRUNCATE data",
            "CREATE TABLE public.reader_table (x int)",
        ):
            # Sessions start read-only; even a read-write transaction is refused by the grants.
            with pytest.raises(ProgrammingError, match="permission denied"):
                with reader.begin() as conn:
                    conn.execute(sa.text("SET TRANSACTION READ WRITE"))
                    conn.execute(sa.text(statement))
    finally:
        reader.dispose()
    owner = sa.create_engine(source_with_reader["owner"], poolclass=sa.pool.NullPool)
    with owner.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400
    owner.dispose()


def test_the_init_script_converges_when_run_again(source_with_reader):
    result = _run_init_script(source_with_reader["owner"], CONEKTOR_READER_PASSWORD=READER_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "conektor_reader can read" in result.stdout
    reader = sa.create_engine(source_with_reader["reader"], poolclass=sa.pool.NullPool)
    with reader.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400
    reader.dispose()


def test_the_init_script_without_a_password_fails_clearly(new_database):
    result = _run_init_script(new_database("compose_nopass"))
    assert result.returncode == 1
    assert "CONEKTOR_READER_PASSWORD is not set" in result.stderr


@pytest.mark.parametrize("service", ["source-db", "target-db", "dagster-db"])
def test_the_postgres_healthcheck_tells_up_from_down(service, source_with_reader):
    kind, command = compose_config()["services"][service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    up = _postgres_container_env(source_with_reader["owner"])
    assert run_command(["sh", "-c", command], up, cwd=Path("/"), timeout=30).returncode == 0
    down = {**up, "PGPORT": str(free_port())}
    # pg_isready's 2 is "no response": the server is down, not the command wrong (3).
    assert run_command(["sh", "-c", command], down, cwd=Path("/"), timeout=30).returncode == 2


@pytest.fixture(scope="module")
def api_from_compose(source_with_reader, tmp_path_factory) -> Iterator[tuple[str, dict, dict]]:
    """The conektor-api service's command, run natively with its compose environment."""
    service = compose_config()["services"]["conektor-api"]
    port = free_port()
    workdir = tmp_path_factory.mktemp("conektor-api")
    env = service_environment(
        service,
        {"WIND_API_DB_URL": source_with_reader["reader"]},
        image_environment(workdir / "dagster_home", workdir / "compute_logs"),
    )
    process = NativeProcess(
        "conektor-api", native_command(service["command"], {8000: port}), env, workdir
    )
    try:
        yield f"http://127.0.0.1:{port}", service, {"process": process, "env": env, "port": port}
    finally:
        process.stop()


def test_the_api_command_serves_the_source_through_the_reader_role(api_from_compose, tmp_path):
    url, service, ctx = api_from_compose
    kind, *healthcheck = service["healthcheck"]["test"]
    assert kind == "CMD"
    healthcheck = native_command(healthcheck, {8000: ctx["port"]})
    assert f":{ctx['port']}/health" in healthcheck[-1]

    def healthy() -> bool:
        return run_command(healthcheck, ctx["env"], cwd=tmp_path, timeout=30).returncode == 0

    ctx["process"].wait_until(healthy, timeout=120, what="healthy /health")
    response = httpx.get(
        f"{url}/data",
        params={"start": "2024-01-05T00:00", "end": "2024-01-05T01:00", "variables": "power"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["row_count"] == 60
    assert body["variables"] == ["power"]
    assert "server" not in response.headers
    # The same healthcheck fails where no API answers.
    elsewhere = native_command(service["healthcheck"]["test"][1:], {8000: free_port()})
    assert run_command(elsewhere, ctx["env"], cwd=tmp_path, timeout=30).returncode == 1
