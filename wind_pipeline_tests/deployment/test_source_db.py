"""The PostgreSQL image's pieces, run natively: the init scripts (PUBLIC's rights taken away on
every server, the Conektor's read-only role on the Source), the PostgreSQL healthcheck, and the
API's command and healthcheck using that role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, ProgrammingError

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

RESTRICT_SCRIPT = REPO_ROOT / "docker" / "postgres" / "10-restrict-public.sh"
INIT_SCRIPT = REPO_ROOT / "docker" / "postgres" / "20-conektor-reader.sh"
RESTRICT_SQL = REPO_ROOT / "docker" / "postgres" / "restrict_public.sql"
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
        # Where the image bakes the SQL files; here, the repo's copies.
        "READER_ROLE_SQL": str(READER_ROLE_SQL),
        "RESTRICT_PUBLIC_SQL": str(RESTRICT_SQL),
        # Only the test's own database: `postgres` and `template1` belong to the shared server.
        "RESTRICT_DATABASES": url.database,
        **extra,
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _run_init_script(database_url: str, script: Path = INIT_SCRIPT, **extra: str):
    env = _postgres_container_env(database_url, **extra)
    return run_command(["bash", str(script)], env, cwd=Path("/"), timeout=60)


def _reader_url(owner_url: str) -> str:
    return (
        sa.make_url(owner_url)
        .set(username="conektor_reader", password=READER_PASSWORD)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="module")
def source_with_reader(new_database: Callable[[str], str]) -> dict[str, str]:
    """A Source database as the container makes it: the init scripts in the image's order,
    then `source_seed`'s table (created later, by the owner) filled with the default period."""
    owner_url = new_database("compose_source")
    for script in (RESTRICT_SCRIPT, INIT_SCRIPT):
        result = _run_init_script(owner_url, script, CONEKTOR_READER_PASSWORD=READER_PASSWORD)
        assert result.returncode == 0, result.stderr
    seed(owner_url, generate_turbine_data())
    return {"owner": owner_url, "reader": _reader_url(owner_url)}


def _refused_even_read_write(reader: sa.Engine, *statements: str) -> None:
    """Each statement fails with `permission denied`, even in a READ WRITE transaction."""
    for statement in statements:
        with pytest.raises(ProgrammingError, match="permission denied"):
            with reader.begin() as conn:
                conn.execute(sa.text("SET TRANSACTION READ WRITE"))
                conn.execute(sa.text(statement))


def test_the_reader_role_can_read_data_and_nothing_else(source_with_reader):
    reader = sa.create_engine(source_with_reader["reader"], poolclass=sa.pool.NullPool)
    try:
        with reader.connect() as conn:
            # The init script created the table; source_seed's DELETE + COPY kept the grant.
            assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400
        # Sessions start read-only; even a read-write transaction is refused by the grants.
        _refused_even_read_write(
            reader,
            "INSERT INTO data (timestamp) VALUES ('2030-01-01Z')",
            "DELETE FROM data",
            "UPDATE data SET power = 0",
            "TRUNCATE data",
            "CREATE TABLE public.reader_table (x int)",
        )
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


def test_the_reader_cannot_write_large_objects_make_temp_tables_or_leave_read_only(
    source_with_reader,
):
    """Issue 12, item 4, in the Compose image: what PUBLIC gave every role is taken away."""
    reader = sa.create_engine(source_with_reader["reader"], poolclass=sa.pool.NullPool)
    try:
        with reader.connect() as conn:
            assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar() == "on"
        _refused_even_read_write(
            reader,
            "SELECT lo_from_bytea(0, 'x')",
            "SELECT lo_create(0)",
            "CREATE TEMP TABLE scratch (x int)",
        )
    finally:
        reader.dispose()


def test_a_restricted_database_refuses_the_reader(source_with_reader, new_database):
    """On a server whose databases went through 10-restrict-public.sh (as `postgres`,
    `template1` and the Target's or Dagster's database do in their containers), the reader
    role, which exists on the server, cannot connect to any database but its own."""
    other = new_database("compose_other")
    result = _run_init_script(other, RESTRICT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert f"({sa.make_url(other).database})" in result.stdout
    reader = sa.create_engine(_reader_url(other), poolclass=sa.pool.NullPool)
    with pytest.raises(OperationalError, match="permission denied for database"):
        reader.connect()
    reader.dispose()
    # The owner, a superuser as POSTGRES_USER is in the image, is not affected.
    owner = sa.create_engine(other, poolclass=sa.pool.NullPool)
    with owner.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    owner.dispose()


def test_the_restrict_script_converges_when_run_again(source_with_reader):
    result = _run_init_script(source_with_reader["owner"], RESTRICT_SCRIPT)
    assert result.returncode == 0, result.stderr
    reader = sa.create_engine(source_with_reader["reader"], poolclass=sa.pool.NullPool)
    with reader.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400
    reader.dispose()


def test_the_reader_script_acts_only_where_a_password_is_given(new_database):
    """target-db and dagster-db get no CONEKTOR_READER_PASSWORD: nothing to do there. Given
    but empty (a broken .env) is an error."""
    url = new_database("compose_nopass")
    skipped = _run_init_script(url)
    assert skipped.returncode == 0, skipped.stderr
    assert "no Conektor reader role on this server" in skipped.stdout
    empty = _run_init_script(url, CONEKTOR_READER_PASSWORD="")
    assert empty.returncode == 1
    assert "CONEKTOR_READER_PASSWORD is empty" in empty.stderr


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
