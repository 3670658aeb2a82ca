"""The local stack stopped uncleanly: `wind-stack up` (what `make up` runs) recovers, data intact.

Runs a scratch stack in a temporary WIND_STACK_ROOT on free ports. Each test breaks it in a
different way (a busy backend outliving its killed postmaster, pid files pointing at live
unrelated processes, garbage pid files, ports taken while down, a kill in the middle of a
write) and checks that `up` succeeds and the Source holds exactly the rows it held before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.faultkit import wait_until
from wind_pipeline_tests.support.helpers import scalar, seed
from wind_stack.env_file import read_env_file
from wind_stack.net import free_port
from wind_stack.stack import LocalStack

BIN = Path(sys.executable).parent
CHECKSUM = (
    "SELECT count(*) || ':' || md5(string_agg(timestamp::text || wind_speed || power "
    "|| ambient_temperature, ',' ORDER BY timestamp)) FROM data"
)


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    checksum: str

    @property
    def local(self) -> LocalStack:
        return LocalStack(self.root / ".stack", self.root / ".env")

    def settings(self) -> dict[str, str]:
        return read_env_file(self.root / ".env")

    def wind_stack(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "wind-stack"), command],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def assert_up_with_data_intact(self) -> None:
        result = self.wind_stack("up")
        assert result.returncode == 0, result.stderr
        assert scalar(self.settings()["WIND_SOURCE_DB_URL"], CHECKSUM) == self.checksum
        assert httpx.get(f"{self.settings()['WIND_API_URL']}/health").status_code == 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("crashstack")
    # Free ports from the start: never the default ports another stack may be using.
    (root / ".stack").mkdir()
    (root / ".stack" / "stack.json").write_text(
        json.dumps({"pg_port": free_port(), "api_port": free_port()})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    env["WIND_STACK_ROOT"] = str(root)
    handle = Stack(root, env, "")
    result = handle.wind_stack("up")
    assert result.returncode == 0, result.stderr
    source = handle.settings()["WIND_SOURCE_DB_URL"]
    seed(source, generate_turbine_data(days=1))
    handle.checksum = scalar(source, CHECKSUM)
    assert handle.checksum.startswith("1440:")
    try:
        yield handle
    finally:
        handle.wind_stack("down")


def _kill_stack(stack: Stack) -> None:
    """SIGKILL the postmaster and the API; their pid files stay behind."""
    local = stack.local
    postmaster, api = local.postgres.postmaster_pid(), local.api_pid()
    os.kill(api, signal.SIGKILL)
    os.kill(postmaster, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(postmaster)], timeout=10)


def test_stack_listens_on_loopback_only_and_sends_no_server_header(stack: Stack):
    source = stack.settings()["WIND_SOURCE_DB_URL"]
    assert scalar(source, "SHOW listen_addresses") == "127.0.0.1"
    assert scalar(source, "SHOW unix_socket_directories") == ""
    response = httpx.get(f"{stack.settings()['WIND_API_URL']}/no-such-route")
    assert response.status_code == 404 and "server" not in response.headers


def test_a_busy_backend_outliving_its_killed_postmaster_does_not_block_up(stack: Stack):
    source = stack.settings()["WIND_SOURCE_DB_URL"]
    engine = sa.create_engine(source, poolclass=sa.pool.NullPool)
    busy_pid: list[int] = []

    def busy() -> None:
        # A CPU-bound query does not notice its postmaster's death for a long time.
        try:
            with engine.connect() as conn:
                busy_pid.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar())
                conn.execute(sa.text("SELECT count(*) FROM generate_series(1, 2000000000)"))
        except sa.exc.DBAPIError:
            pass

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    wait_until(lambda: busy_pid, "the busy query to start")
    try:
        _kill_stack(stack)
        assert psutil.pid_exists(busy_pid[0])  # the orphan still holds the old shared memory

        stack.assert_up_with_data_intact()
        assert not psutil.pid_exists(busy_pid[0]) or (
            psutil.Process(busy_pid[0]).status() == psutil.STATUS_ZOMBIE
        )
    finally:
        with contextlib.suppress(psutil.Error):
            psutil.Process(busy_pid[0]).kill()  # never leave a CPU-bound orphan behind
        thread.join(30)
        engine.dispose()


def test_pid_files_naming_live_unrelated_processes_are_ignored_not_killed(stack: Stack):
    assert stack.wind_stack("down").returncode == 0
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        pgdata = stack.root / ".stack" / "pgdata"
        (pgdata / "postmaster.pid").write_text(f"{bystander.pid}\n{pgdata}\n")
        (stack.root / ".stack" / "api.pid").write_text(str(bystander.pid))
        stack.assert_up_with_data_intact()
        assert bystander.poll() is None  # the stranger is alive and untouched
    finally:
        bystander.kill()
        bystander.wait()


def test_garbage_pid_files_and_a_kill_mid_write(stack: Stack):
    source = stack.settings()["WIND_SOURCE_DB_URL"]
    engine = sa.create_engine(source, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    conn.execute(sa.text("DELETE FROM data"))  # uncommitted when the server dies
    _kill_stack(stack)
    (stack.root / ".stack" / "pgdata" / "postmaster.pid").write_text("not a pid\n")
    (stack.root / ".stack" / "api.pid").write_text("")
    stack.assert_up_with_data_intact()
    try:
        conn.close()
    except sa.exc.DBAPIError:
        pass
    engine.dispose()


def test_ports_taken_while_down_move_and_settings_follow(stack: Stack):
    assert stack.wind_stack("down").returncode == 0
    local = stack.local
    squatters = []
    for port in (local.postgres.port, local.api_port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        squatters.append(sock)
    try:
        stack.assert_up_with_data_intact()
        settings = stack.settings()
        assert str(local.postgres.port) not in settings["WIND_SOURCE_DB_URL"]
        assert settings["WIND_API_URL"] != f"http://127.0.0.1:{local.api_port}"
    finally:
        for sock in squatters:
            sock.close()
