"""Security: least-privilege writer, loopback-only PostgreSQL, no committed secrets, no
passwords in any output, and an API that leaks no stack traces, versions or CORS grants."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from wind_pipeline.target_models import create_target_schema
from wind_pipeline_tests.support.faultkit import WIND_ETL, materialize, subprocess_env
from wind_pipeline_tests.support.helpers import REPO_ROOT, execute, scalar
from wind_stack.db_roles import ensure_target_writer

PASSWORD = "Pw4" + "Leak9Test"  # split so this file itself holds no URL with it


def _with(url: str, **parts: object) -> str:
    return sa.make_url(url).set(**parts).render_as_string(hide_password=False)


def _denied(url: str, sql: str) -> bool:
    """True when PostgreSQL refuses `sql` for lack of privilege."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(sql))
    except sa.exc.ProgrammingError as exc:
        return type(exc.orig).__name__ == "InsufficientPrivilege"
    finally:
        engine.dispose()
    return False


# -- the Target's writer role ---------------------------------------------------------------


@pytest.fixture
def writer_role(pg_admin_url: str) -> Iterator[tuple[str, str, list[str]]]:
    """A writer role unique to this test (roles are server-wide), dropped afterwards."""
    role, password = f"wind_writer_t{os.getpid()}", secrets.token_urlsafe(16)
    databases: list[str] = []
    yield role, password, databases
    if scalar(pg_admin_url, "SELECT count(*) FROM pg_roles WHERE rolname = :r", r=role):
        for url in databases:
            execute(url, f'DROP OWNED BY "{role}"')
        execute(pg_admin_url, f'DROP ROLE "{role}"')


def test_the_writer_loads_its_own_tables_and_can_drop_nothing_else(
    writer_role, new_database: Callable[[str], str], source_url: str, api_url: str
):
    role, password, databases = writer_role
    admin = new_database("writer")
    databases.append(admin)
    ensure_target_writer(admin, role=role, password=password)
    ensure_target_writer(admin, role=role, password=password)  # idempotent
    writer = _with(admin, username=role, password=password)

    # target_schema and a partition run as the writer.
    engine = sa.create_engine(writer)
    assert len(create_target_schema(engine)) == 8
    engine.dispose()
    assert materialize(api_url, writer, partition_key="2024-01-05").success
    assert scalar(writer, "SELECT count(*) FROM data") == 1152

    execute(admin, "CREATE TABLE audit_log (id int)")  # someone else's table, same schema
    assert _denied(writer, "DROP TABLE audit_log")
    assert _denied(writer, "DELETE FROM audit_log")
    assert _denied(writer, "DROP SCHEMA public CASCADE")
    assert _denied(writer, "CREATE DATABASE wind_evil")
    assert _denied(writer, "CREATE ROLE wind_evil")
    assert _denied(writer, "ALTER SYSTEM SET listen_addresses = '*'")
    assert _denied(writer, "COPY data TO PROGRAM 'true'")
    source_as_writer = _with(source_url, username=role, password=password)
    assert _denied(source_as_writer, "SELECT count(*) FROM data")
    assert _denied(source_as_writer, "DROP TABLE data")
    assert scalar(source_url, "SELECT count(*) FROM data") == 14_400


def test_a_writer_granted_on_existing_tables_can_load_but_not_drop_them(
    writer_role, target_url: str, api_url: str
):
    role, password, databases = writer_role
    databases.append(target_url)
    ensure_target_writer(target_url, role=role, password=password)
    writer = _with(target_url, username=role, password=password)
    assert materialize(api_url, writer, partition_key="2024-01-05").success
    assert _denied(writer, "DROP TABLE data")
    assert _denied(writer, "TRUNCATE data")
    assert _denied(writer, "ALTER TABLE signal ADD COLUMN x int")
    assert scalar(target_url, "SELECT count(*) FROM data") == 1152


# -- PostgreSQL listens on loopback only ----------------------------------------------------


def test_embedded_postgres_listens_on_loopback_only(pg_admin_url: str):
    if os.environ.get("WIND_TEST_PG_URL"):
        pytest.skip("an external server's network settings are its owner's")
    assert scalar(pg_admin_url, "SHOW listen_addresses") == "127.0.0.1"
    assert scalar(pg_admin_url, "SHOW unix_socket_directories") == ""
    port = sa.make_url(pg_admin_url).port
    others = [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not address.address.startswith("127.")
    ]
    for address in others:  # the same port on this machine's other addresses: nobody home
        with socket.socket() as sock:
            sock.settimeout(5)
            assert sock.connect_ex((address, port)) != 0, address


# -- no secrets in the repository -----------------------------------------------------------

_FAKE_PASSWORDS = {"***", "...", "secret", "s3cret", "password", "pw", "pw1", "pw2"}
# `.env.example` may hold obvious placeholders, and nothing else.
_PLACEHOLDER = re.compile(r"change-me(-[a-z]+)*")
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s:/@'\"]+:([^\s@'\"/]+)@", re.I)
_KEYS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[abprs]-"
)
_CONFIG_PASSWORD = re.compile(r"(?im)^[ \t\-]*[\w.]*PASSWORD\w*[ \t]*[:=][ \t]*(?P<value>\S.*)$")
# Values taken from the environment: ${VAR}, ${VAR:?...}, Dagster's {env: VAR} / env: VAR.
_FROM_ENV = re.compile(r"^(\$\{|\{\s*env\s*:|env\s*:)", re.I)


def _tracked_files() -> list[Path]:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    return [REPO_ROOT / name for name in listed.decode().split("\0") if name]


def test_no_secrets_are_committed():
    found = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        content = path.read_text(errors="ignore")
        for match in _URL_WITH_PASSWORD.finditer(content):
            secret = match.group(1)
            # A one- to three-character "password" in a test's sample URL is no secret.
            if len(secret) < 4 or secret in _FAKE_PASSWORDS:
                continue
            if not re.fullmatch(r"\$\{.*\}|<.*>|\{.*\}", secret):
                found.append(f"{path.name}: URL with a password")
        if _KEYS.search(content):
            found.append(f"{path.name}: a private key or token")
        if path.suffix not in (".py", ".md"):  # config files: passwords come from ${ENV}
            for match in _CONFIG_PASSWORD.finditer(content):
                value = match["value"].strip().strip("'\"")
                if path.name == ".env.example" and _PLACEHOLDER.fullmatch(value):
                    continue
                if value and not _FROM_ENV.match(value):
                    found.append(f"{path.name}: a literal password setting")
    assert not found
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored"


# -- no password in any output --------------------------------------------------------------


@pytest.fixture
def target_with_password(target_url: str, pg_admin_url: str) -> Iterator[str]:
    """`target_url` as a writer role whose password is PASSWORD (every role needs its own)."""
    role = f"wind_leak_t{os.getpid()}"
    ensure_target_writer(target_url, role=role, password=PASSWORD)
    yield _with(target_url, username=role, password=PASSWORD)
    execute(target_url, f'DROP OWNED BY "{role}"')
    execute(pg_admin_url, f'DROP ROLE "{role}"')


def test_wind_etl_never_prints_a_password(
    api_url: str, target_url: str, target_with_password: str, tmp_path
):
    api_with_password = api_url.replace("http://", f"http://etl:{PASSWORD}@")
    runs = [
        {"WIND_API_URL": api_with_password, "WIND_TARGET_DB_URL": target_with_password},
        {
            "WIND_API_URL": "http://etl:" + PASSWORD + "@127.0.0.1:9",
            "WIND_TARGET_DB_URL": target_url,
        },
        {
            "WIND_API_URL": api_url,
            "WIND_TARGET_DB_URL": _with(target_url, port=9, password=PASSWORD),
        },
        {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": f"mysql://u:{PASSWORD}@h/d"},
    ]
    codes = []
    for env in runs:
        result = subprocess.run(
            [WIND_ETL, "2024-01-05"],
            env=subprocess_env(env),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        codes.append(result.returncode)
        assert PASSWORD not in result.stdout + result.stderr
    assert codes == [0, 1, 1, 2]


def _dagster_materialize(env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    home.mkdir()
    command = [
        str(Path(sys.executable).parent / "dagster"), "asset", "materialize",
        "-m", "wind_pipeline.definitions", "--select", "wind_10min_aggregates",
        "--partition", "2024-01-05",
    ]  # fmt: skip
    return subprocess.run(
        command,
        env=subprocess_env({**env, "DAGSTER_HOME": str(home)}),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _leaks(result: subprocess.CompletedProcess, home: Path) -> list[str]:
    """Where the password appears: the run's output or any file Dagster wrote."""
    places = ["output"] if PASSWORD in result.stdout + result.stderr else []
    for path in home.rglob("*"):
        if path.is_file() and PASSWORD.encode() in path.read_bytes():
            places.append(str(path.relative_to(home)))
    return places


def test_dagster_runs_never_log_a_database_password(
    api_url: str, target_url: str, target_with_password: str, tmp_path
):
    ok = _dagster_materialize(
        {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_with_password}, tmp_path / "ok"
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert _leaks(ok, tmp_path / "ok") == []

    down = _with(target_url, port=9, password=PASSWORD)
    failed = _dagster_materialize(
        {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": down}, tmp_path / "failed"
    )
    assert failed.returncode == 1, failed.stderr[-2000:]  # the run failed (not a usage error)
    assert _leaks(failed, tmp_path / "failed") == []


def test_dagster_runs_never_log_an_api_url_password(target_url: str, tmp_path):
    env = {
        "WIND_API_URL": "http://etl:" + PASSWORD + "@127.0.0.1:9",
        "WIND_TARGET_DB_URL": target_url,
    }
    failed = _dagster_materialize(env, tmp_path / "home")
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert _leaks(failed, tmp_path / "home") == []


# -- the API leaks nothing ------------------------------------------------------------------


def test_the_api_sends_no_stack_trace_and_no_server_banner(api_url: str):
    requests = [
        ("GET", "/health", None),
        ("GET", "/data", {"start": "2024-01-05", "end": "2024-01-05T01:00"}),
        ("GET", "/data", {"start": "nonsense", "end": "2024-01-05"}),
        ("GET", "/no-such-route", None),
        ("POST", "/data", None),
        ("GET", "/data", {"start": "9999-12-31T23:00-05:00", "end": "9999-12-31T23:30-05:00"}),
    ]
    statuses = []
    for method, path, params in requests:
        with httpx.Client(base_url=api_url) as client:  # a fresh connection each time
            response = client.request(method, path, params=params)
        statuses.append(response.status_code)
        for header in ("server", "x-powered-by", "via", "x-aspnet-version"):
            assert header not in response.headers, (path, header)
        lowered = response.text.lower()
        for leak in ("traceback", 'file "', "uvicorn", "starlette", "python/", "sqlalchemy"):
            assert leak not in lowered, (path, leak)
    assert statuses == [200, 200, 422, 404, 405, 422]


def test_cors_is_off(api_url: str):
    origin = {"Origin": "https://evil.example"}
    preflight = httpx.options(
        f"{api_url}/data", headers={**origin, "Access-Control-Request-Method": "GET"}
    )
    simple = httpx.get(f"{api_url}/health", headers=origin)
    for response in (preflight, simple):
        assert not any(h.startswith("access-control-") for h in response.headers), response.headers


def test_cors_allows_only_the_configured_origins_and_only_get(source_url: str, start_api):
    from api_service.settings import ApiSettings

    api = start_api(source_url, WIND_API_CORS_ORIGINS="https://dashboard.example")
    assert ApiSettings(WIND_API_CORS_ORIGINS="a, b").cors_origin_list == ["a", "b"]
    allowed = httpx.get(f"{api.url}/health", headers={"Origin": "https://dashboard.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dashboard.example"
    assert "access-control-allow-credentials" not in allowed.headers
    other = httpx.get(f"{api.url}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = httpx.options(
        f"{api.url}/data",
        headers={"Origin": "https://dashboard.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert preflight.status_code == 400
