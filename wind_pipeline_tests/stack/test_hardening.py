"""The local stack in an outsider's hands (issue 12, items 3, 4, 12, 14, 15): passwords for
every role, a confined API reader, run monitoring that fails a run whose process died, a `.env`
that keeps the user's lines, and a `make run` summary that names only this checkout's UI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import psutil
import pytest
import sqlalchemy as sa

from wind_pipeline_tests.support.helpers import scalar
from wind_stack.db_roles import READER_ROLE, WRITER_ROLE
from wind_stack.env_file import read_env_file
from wind_stack.net import free_port
from wind_stack.os_user import running_as_root, runs_with_root_group
from wind_stack.postgres import pg_bin_dir
from wind_stack.stack import LocalStack

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hardened")
    (root / ".stack").mkdir()
    # Free ports of our own: the default ones may belong to a developer's running stack.
    (root / ".stack" / "stack.json").write_text(
        json.dumps({"pg_port": free_port(), "api_port": free_port()})
    )
    # What a user wrote before `make up` (issue 12 item 14).
    (root / ".env").write_text(
        "# my settings\nWIND_API_CORS_ORIGINS=https://ui.example\nWIND_API_MAX_RANGE_DAYS=7\n"
        "POSTGRES_PASSWORD=compose-own\nWIND_API_URL=http://stale.example:1\n"
    )
    stack = LocalStack(root / ".stack", root / ".env", root / "dagster_home")
    stack.up()
    yield stack
    stack.down()


def _psql(stack: LocalStack, user: str, sql: str, password: str | None, database="postgres"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password
    args = [str(pg_bin_dir() / "psql"), "-X", "-w", "-h", "127.0.0.1"]
    args += ["-p", str(stack.postgres.port), "-U", user, "-d", database, "-tAc", sql]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)


def _refused(url: str, *statements: str) -> str:
    """The error PostgreSQL gives for the last statement, run in one transaction (or '')."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    except sa.exc.DBAPIError as exc:
        return str(exc.orig)
    finally:
        engine.dispose()
    return ""


# -- item 3: passwords for every role ---------------------------------------------------------


def test_no_role_logs_in_without_its_password(stack):
    for user in ("postgres", WRITER_ROLE, READER_ROLE):
        for password in (None, "wrong"):
            result = _psql(stack, user, "SELECT 1", password)
            assert result.returncode != 0, (user, password)
            assert "password" in result.stderr, result.stderr
    ok = _psql(stack, "postgres", "SELECT 1", stack.postgres.passwords.get("postgres"))
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr
    hba = (stack.postgres.data_dir / "pg_hba.conf").read_text() if not running_as_root() else ""
    assert "trust" not in hba


@pytest.mark.skipif(not running_as_root(), reason="needs root to act as another OS user")
def test_another_local_user_cannot_become_the_superuser(stack):
    """What the issue found: any OS account ran `psql -U postgres` (then COPY ... TO PROGRAM)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/"}
    args = [str(pg_bin_dir() / "psql"), "-X", "-w", "-h", "127.0.0.1"]
    args += ["-p", str(stack.postgres.port), "-U", "postgres", "-tAc", "SELECT 1"]
    result = subprocess.run(
        args, user="nobody", group="nogroup", extra_groups=[], env=env, cwd="/",
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode != 0 and "password" in result.stderr, result.stderr


def test_passwords_are_kept_readable_by_their_owner_only(stack):
    root = stack.env_file.parent
    for path in (
        stack.stack_dir / "passwords.json",
        stack.env_file,
        root / "dagster_home" / "dagster.yaml",
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path
    kept = json.loads((stack.stack_dir / "passwords.json").read_text())
    assert set(kept) == {"postgres", WRITER_ROLE, READER_ROLE}
    settings = read_env_file(stack.env_file)
    assert sa.make_url(settings["WIND_TARGET_DB_URL"]).password == kept[WRITER_ROLE]
    assert sa.make_url(settings["WIND_SOURCE_DB_URL"]).password == kept["postgres"]
    api_env = psutil.Process(stack.api_pid()).environ()
    assert sa.make_url(api_env["WIND_API_DB_URL"]).password == kept[READER_ROLE]


@pytest.mark.skipif(not running_as_root(), reason="the server runs as ourselves otherwise")
def test_the_server_runs_without_root_group(stack):
    pid = stack.postgres.postmaster_pid()
    assert psutil.Process(pid).uids().real != 0
    assert not runs_with_root_group(pid)
    for child in psutil.Process(pid).children():
        assert not runs_with_root_group(child.pid)


# -- item 4: the API's reader is confined to reading `data` -----------------------------------


def test_the_reader_can_only_read_the_source_table(stack):
    reader = stack.api_db_url
    assert scalar(reader, "SHOW transaction_read_only") == "on"
    assert scalar(reader, "SELECT count(*) FROM data") == 0
    # Even in a transaction it asks to be READ WRITE, nothing can be written.
    assert "permission denied for function lo_from_bytea" in _refused(
        reader, "BEGIN READ WRITE", "SELECT lo_from_bytea(0, 'x')"
    )
    assert "permission denied for function lo_create" in _refused(
        reader, "BEGIN READ WRITE", "SELECT lo_create(0)"
    )
    assert "permission denied to create temporary tables" in _refused(
        reader, "BEGIN READ WRITE", "CREATE TEMP TABLE t (x int)"
    )
    assert "permission denied" in _refused(
        reader, "BEGIN READ WRITE", "INSERT INTO data (timestamp) VALUES (now())"
    )
    for database in ("wind_target", "dagster", "postgres", "template1"):
        url = sa.make_url(reader).set(database=database).render_as_string(hide_password=False)
        assert "permission denied for database" in _refused(url, "SELECT 1"), database


def test_the_writer_reaches_only_the_target(stack):
    writer = stack.settings()["WIND_TARGET_DB_URL"]
    assert scalar(writer, "SELECT current_user") == WRITER_ROLE
    for database in ("wind_source", "dagster", "postgres"):
        url = sa.make_url(writer).set(database=database).render_as_string(hide_password=False)
        assert "permission denied for database" in _refused(url, "SELECT 1"), database


# -- item 14: `make up` keeps what the user wrote in .env ---------------------------------------


def test_up_keeps_the_users_env_lines_and_updates_only_its_own(stack):
    text = stack.env_file.read_text()
    for line in (
        "# my settings",
        "WIND_API_CORS_ORIGINS=https://ui.example",
        "WIND_API_MAX_RANGE_DAYS=7",
        "POSTGRES_PASSWORD=compose-own",
    ):
        assert line in text.splitlines()
    assert "stale.example" not in text  # a stack-managed key is updated in place
    assert text.count("WIND_API_URL=") == 1
    assert f"WIND_API_URL=${{WIND_API_URL:-{stack.api_url}}}" in text.splitlines()
    stack.up()  # again: nothing of the user's is lost, nothing duplicated
    assert stack.env_file.read_text() == text


def test_an_exported_setting_wins_over_the_env_file(stack):
    """The stack writes KEY=${KEY:-value}: python-dotenv (Dagster's CLI, pydantic-settings)
    expands it to an exported KEY when there is one."""
    code = (
        "import dotenv, sys; v = dotenv.dotenv_values(sys.argv[1]); "
        "print(v['WIND_API_URL']); print(v['WIND_API_CORS_ORIGINS'])"
    )
    env = {**os.environ, "WIND_API_URL": "http://exported.example:9"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(stack.env_file)], env=env, capture_output=True, text=True
    ).stdout.split()
    assert out == ["http://exported.example:9", "https://ui.example"]
    env.pop("WIND_API_URL")
    out = subprocess.run(
        [sys.executable, "-c", code, str(stack.env_file)], env=env, capture_output=True, text=True
    ).stdout.split()
    assert out == [stack.api_url, "https://ui.example"]


# -- item 12: a run whose process died is marked failed ------------------------------------------


def test_run_monitoring_fails_a_run_whose_process_was_killed(stack, tmp_path):
    """A real run of wind_10min_aggregates from the CLI, killed (SIGKILL) while it runs; Dagster's
    own monitoring step, on the instance the stack wrote, marks it failed."""
    import logging

    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    from wind_pipeline.source_data import generate_turbine_data, seed_source
    from wind_pipeline.target_models import create_target_schema

    home = stack.dagster_home
    settings = stack.settings()
    engine = sa.create_engine(settings["WIND_SOURCE_DB_URL"], poolclass=sa.pool.NullPool)
    seed_source(engine, generate_turbine_data(days=2))
    engine.dispose()
    engine = sa.create_engine(settings["WIND_TARGET_DB_URL"], poolclass=sa.pool.NullPool)
    create_target_schema(engine)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    # The API is down, so the run's step waits in its retries: a run that is surely in progress.
    stack.stop_api()
    env.update(settings, DAGSTER_HOME=str(home))
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    run_proc = subprocess.Popen(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "wind_pipeline.definitions",
         "--select", "wind_10min_aggregates", "--partition", "2024-01-01"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        deadline, run = time.monotonic() + 120, None
        while time.monotonic() < deadline and run_proc.poll() is None:
            runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            if runs and instance.run_launcher.check_run_worker_health(runs[0]).msg.startswith(
                "process"
            ):
                run = runs[0]
                break
            time.sleep(0.5)
        assert run is not None, (tmp_path / "run.log").read_text()[-2000:]
        run_proc.send_signal(signal.SIGKILL)
        run_proc.wait(10)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED

        (record,) = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
        monitor_started_run(instance, None, record, logging.getLogger("test"))
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    finally:
        if run_proc.poll() is None:
            run_proc.kill()
        log.close()
        instance.dispose()
        stack.start_api()


def test_the_instance_has_run_monitoring_on(stack):
    instance = dg.DagsterInstance.from_config(str(stack.dagster_home))
    try:
        assert instance.run_monitoring_enabled
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_max_resume_run_attempts == 0
    finally:
        instance.dispose()


# -- item 15: `make run` names only this checkout's UI -------------------------------------------


class _SomethingElse(BaseHTTPRequestHandler):
    """Not this checkout's UI: answers /server_info and GraphQL like some other Dagster would."""

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        self._reply(b'{"dagster_webserver_version": "1.13.27"}')

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = {
            "data": {
                "instance": {"executablePath": "/elsewhere/bin/python", "info": None},
                "workspaceOrError": {"locationEntries": [{"name": "someone_elses"}]},
            }
        }
        self._reply(json.dumps(body).encode())

    def log_message(self, *args):
        pass


def test_the_summary_does_not_claim_another_programs_ui(stack):
    from wind_stack.run_all import ui_of_this_checkout

    server = ThreadingHTTPServer(("127.0.0.1", 0), _SomethingElse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    instance = dg.DagsterInstance.from_config(str(stack.dagster_home))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert not ui_of_this_checkout(url, instance)
        assert not ui_of_this_checkout(f"http://127.0.0.1:{free_port()}", instance)  # nobody
    finally:
        instance.dispose()
        server.shutdown()


def test_make_clean_keeps_the_users_env_lines(tmp_path):
    """`make clean` (wind-stack forget-env) takes out the stack's keys, not the user's lines."""
    from wind_stack.env_file import write_env_file

    stack = LocalStack(tmp_path / ".stack", tmp_path / ".env", tmp_path / "home")
    stack.env_file.write_text("WIND_API_MAX_RANGE_DAYS=7\n")
    stack.write_env_file()
    assert "WIND_SOURCE_DB_URL" in stack.env_file.read_text()
    stack.forget_env_file()
    assert stack.env_file.read_text() == "WIND_API_MAX_RANGE_DAYS=7\n"
    write_env_file(stack.env_file, {"WIND_API_URL": "http://127.0.0.1:1"})
    stack.env_file.write_text(stack.env_file.read_text().replace("WIND_API_MAX_RANGE_DAYS=7\n", ""))
    stack.forget_env_file()  # nothing of the user's left: the file goes
    assert not stack.env_file.exists()
