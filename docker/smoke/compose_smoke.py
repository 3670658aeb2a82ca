"""The Compose deployment proven on a real Docker engine: `make compose-smoke`.

Run by `scripts/compose-smoke.sh` (which checks the tools first). Standard library only: it
runs with any host `python3` (3.8+). Every step prints one line (`ok` or `FAILED`, its time,
what it showed); the commands' own output goes to a log file, named at the start. It
builds the images, starts the deployment with `docker compose up -d --wait`, and proves:

  bootstrap   the Source seeded (14,400 rows), the Target schema (8 signals)
  reader      conektor_reader reads `data` and nothing else; it cannot reach other databases
  partition   2024-01-05 launched through the webserver runs in its own container: 1,152 rows
  api         the API answers /health on 127.0.0.1 only
  backfill    10 days (a real backfill, range tags) run as one run in one container: 11,520 rows
  terminate   Terminate on a running backfill ends it CANCELED, no retry; each day wholly old or new
  kill        a run container killed mid-run: run monitoring resumes or fails it, never STARTED
  restart     target-db restarted during a run's load: the retry policy rides it out (SUCCESS)
  down/up     `docker compose down` then `up` keeps the data (named volumes)
  users       the webserver, daemon, code location and API run as a non-root user
  secrets     no password in any container's log, in the compute logs or the event log, or in
              a file of the checkout
  down -v     removes the containers, volumes and network

It DELETES the deployment's volumes at the end: it refuses to start while a wind_pipeline
deployment (containers or volumes) exists on the Docker host, unless SMOKE_ALLOW_DESTROY=1.

Settings (environment):
  WIND_PYTHON_IMAGE, WIND_POSTGRES_IMAGE   base images (default: the official ones, pinned)
  WIND_UI_PORT, WIND_API_PORT, WIND_TARGET_DB_PORT   host ports; unset: the default when free,
                                           else a free one (printed)
  SMOKE_ENV_FILE   a Compose env file to use (default: a throw-away one written from
                   .env.example with random passwords; ./.env is never read or written)
  SMOKE_NO_CACHE=1 (build without Docker's build cache: a cold build's time),
  SMOKE_WAIT_SECONDS (default 900), SMOKE_REPORT (write the step results as JSON there),
  SMOKE_KEEP=1 (leave the deployment up at the end, passed or failed, for a look); then, with
  SMOKE_ENV_FILE,
  SMOKE_ONLY=partition,api,... runs just those steps against that deployment
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from materialize_partition import (  # noqa: E402  (the helper beside this file)
    JOB,
    LAUNCH_RUN,
    LOCATION,
    REPOSITORY,
    SmokeError,
    graphql,
    wait_for_location,
)

PROJECT = "wind_pipeline"
ASSET = "wind_10min_aggregates"
SOURCE_ROWS = 14_400
DAY_ROWS = 1_152  # 144 ten-minute buckets x 8 signals
SIGNALS = 8
FIRST_DAY = dt.date(2024, 1, 1)
SOURCE_DAYS = 10
# The loader's per-day advisory lock (wind_pipeline/etl/load.py, _LOCK_NAMESPACE; a test checks
# they agree): holding a day's lock from a psql session parks a run in its load, mid-run.
LOCK_NAMESPACE = 0x57494E44
LOCK_APP = "compose-smoke-lock"  # the application_name of the smoke's lock session
LOCK_HELD_SQL = (
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
    "l.locktype = 'advisory' AND l.granted AND a.application_name = 'compose-smoke-lock'"
)
LOCK_RELEASE_SQL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE application_name = 'compose-smoke-lock'"
)
# A run's load waiting for a day's lock: its lock statement is running, or its transaction is
# open between two of the loader's short lock attempts.
LOAD_WAITING_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%pg_advisory_xact_lock%' "
    "AND state <> 'idle' AND pid <> pg_backend_pid() AND application_name <> 'compose-smoke-lock'"
)
DEFAULT_PORTS = {"WIND_UI_PORT": 3000, "WIND_API_PORT": 8765, "WIND_TARGET_DB_PORT": 54330}
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN")

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status startTime endTime tags { key value } }
    ... on Error { message }
  }
}
"""
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { count results { runId status startTime endTime tags { key value } } }
    ... on Error { message }
  }
}
"""
EVENTS = """
query Events($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events { __typename ... on MessageEvent { message eventType stepKey timestamp } }
    }
    ... on Error { message }
  }
}
"""
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status }
    ... on Error { message }
  }
}
"""
TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on Error { message }
  }
}
"""


class StepFailed(RuntimeError):
    """A step's promise did not hold; the message says what was seen."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(environ, settings: dict, in_use_ok: bool = False) -> tuple:
    """The host ports to publish: a port variable from the environment or the env file is
    honoured (and must be free); otherwise the default, or a free port when the default is
    taken (by the local stack, `make dev`, ...). Returns ({variable: port}, notes)."""
    ports, notes = {}, []
    for name, default in DEFAULT_PORTS.items():
        chosen = environ.get(name) or settings.get(name)
        if in_use_ok:  # the deployment is up: its ports are taken by it
            port = int(chosen or default)
        elif chosen:
            port = int(chosen)
            if not port_is_free(port):
                raise StepFailed(f"{name}={port} is in use on 127.0.0.1; choose another port")
        else:
            port = default
            if not port_is_free(port):
                port = free_port()
                notes.append(f"{default} busy")
        ports[name] = port
    return ports, notes


def read_env_file(path: Path) -> dict:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write_throwaway_env(path: Path) -> None:
    """.env.example with every change-me value replaced by a random hex password and DOCKER_GID
    set to the group of this host's Docker socket."""
    socket_path = os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")
    gid = os.stat(socket_path).st_gid
    lines = []
    for line in (REPO / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        if key in DEFAULT_PORTS:
            continue  # the smoke picks the ports (the default when free)
        if "=change-me" in line:
            line = f"{key}={os.urandom(24).hex()}"
        elif key == "DOCKER_GID":
            line = f"DOCKER_GID={gid}"
        lines.append(line)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def days(first: dt.date, count: int) -> list:
    return [first + dt.timedelta(days=i) for i in range(count)]


class Smoke:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.log_path = workdir / "compose-smoke.log"
        self.log = open(self.log_path, "a", buffering=1)  # closed by close()
        self.results: list = []
        self.wait_seconds = float(os.environ.get("SMOKE_WAIT_SECONDS", "900"))
        own_env = os.environ.get("SMOKE_ENV_FILE")
        if own_env:
            self.env_file = Path(own_env).resolve()
        else:
            self.env_file = workdir / "compose.env"
            write_throwaway_env(self.env_file)
        self.settings = read_env_file(self.env_file)
        self.env = dict(os.environ)
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        self.ports, self.port_notes = choose_ports(
            os.environ, self.settings, in_use_ok=bool(os.environ.get("SMOKE_ONLY"))
        )
        self.env.update({name: str(port) for name, port in self.ports.items()})
        self.passwords = {
            key: value
            for key, value in self.settings.items()
            if SECRET_KEY.search(key) and value and not value.startswith("change-me")
        }
        if len(self.passwords) < 4:
            raise StepFailed(f"{self.env_file} does not give the four passwords")
        self.ui = f"http://127.0.0.1:{self.ports['WIND_UI_PORT']}"
        self.code_image = self.settings.get("WIND_CODE_IMAGE") or "wind-pipeline-code:local"
        self.lock_holders: list = []
        self.earlier_logs = ""

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self.log.close()

    def run(self, args: list, check: bool = True, timeout: float = 600, env=None, quiet=False):
        """Run a command; its output goes to the log unless `quiet` (output that holds the
        passwords, or is large, stays out of the log)."""
        self.log.write(f"\n$ {' '.join(args)}\n")
        result = subprocess.run(
            args,
            cwd=REPO,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if quiet:
            self.log.write(f"({len(result.stdout)} characters of output, not logged)\n")
        else:
            self.log.write(result.stdout)
            self.log.write(result.stderr)
        if check and result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise StepFailed(f"`{' '.join(args[:4])} ...` exited {result.returncode}: {tail}")
        return result

    def compose(self, *args: str, check: bool = True, timeout: float = 600, quiet=False):
        return self.run(
            ["docker", "compose", "--env-file", str(self.env_file), *args],
            check=check,
            timeout=timeout,
            quiet=quiet,
        )

    def psql(self, service: str, sql: str, check: bool = True) -> str:
        """One SQL statement in `service`'s own database, as its owner (Unix socket)."""
        result = self.compose(
            "exec", "-T", service, "sh", "-c",
            'psql -X -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tA -F "|" -c "$1"',
            "sh", sql, check=check,
        )  # fmt: skip
        return result.stdout.strip()

    def gql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.ui, query, variables)

    def step(self, name: str, action) -> None:
        started = time.monotonic()
        try:
            detail = action()
        except (StepFailed, SmokeError, subprocess.TimeoutExpired) as exc:
            seconds = time.monotonic() - started
            self.results.append({"step": name, "ok": False, "seconds": seconds, "detail": str(exc)})
            print(f"compose-smoke: FAILED {name:<10} {seconds:7.1f} s  {exc}", flush=True)
            raise
        seconds = time.monotonic() - started
        self.results.append({"step": name, "ok": True, "seconds": seconds, "detail": detail})
        print(f"compose-smoke: ok     {name:<10} {seconds:7.1f} s  {detail}", flush=True)

    # -- Dagster through the webserver ------------------------------------------------------

    def get_run(self, run_id: str) -> dict:
        run = self.gql(RUN, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise StepFailed(f"run {run_id}: {run.get('message', run['__typename'])}")
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return run

    def runs(self, tags: dict | None = None) -> list:
        filter_ = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        result = self.gql(RUNS, {"filter": filter_})["runsOrError"]
        if result["__typename"] != "Runs":
            raise StepFailed(f"runsOrError: {result.get('message')}")
        for run in result["results"]:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return result["results"]

    def events(self, run_id: str) -> list:
        events, cursor = [], None
        while True:
            page = self.gql(EVENTS, {"runId": run_id, "cursor": cursor})["logsForRun"]
            if page["__typename"] != "EventConnection":
                raise StepFailed(f"logsForRun {run_id}: {page.get('message')}")
            events.extend(page["events"])
            cursor = page["cursor"]
            if not page["hasMore"]:
                return events

    def launch_run(self, tags: dict) -> str:
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": JOB,
            },
            "runConfigData": {},
            "executionMetadata": {
                "tags": [
                    {"key": k, "value": v}
                    for k, v in {**tags, "wind/trigger": "compose-smoke"}.items()
                ]
            },
        }
        result = self.gql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StepFailed(
                f"launchRun: {result['__typename']} {result.get('message') or result.get('errors')}"
            )
        return result["run"]["runId"]

    def launch_backfill(self, first: dt.date, count: int) -> str:
        params = {
            "assetSelection": [{"path": [ASSET]}],
            "partitionNames": [d.isoformat() for d in days(first, count)],
            "tags": [{"key": "wind/trigger", "value": "compose-smoke"}],
        }
        result = self.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise StepFailed(
                f"launchPartitionBackfill: {result['__typename']} {result.get('message')}"
            )
        return result["backfillId"]

    def backfill_run(self, backfill_id: str, timeout: float = 300) -> dict:
        """The (first) run the daemon submits for a backfill."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs({"dagster/backfill": backfill_id})
            if runs:
                return runs[-1]
            time.sleep(1)
        raise StepFailed(f"backfill {backfill_id}: no run submitted within {timeout:.0f} s")

    def wait_run(self, run_id: str, timeout: float | None = None, until=FINISHED) -> dict:
        deadline = time.monotonic() + (timeout or self.wait_seconds)
        status = "?"
        while time.monotonic() < deadline:
            run = self.get_run(run_id)
            status = run["status"]
            if status in until:
                return run
            time.sleep(1)
        raise StepFailed(
            f"run {run_id[:8]} still {status} after {timeout or self.wait_seconds:.0f} s"
        )

    def run_container(self, run: dict) -> str:
        container = run["tags"].get("docker/container_id")
        if not container:
            raise StepFailed(f"run {run['runId'][:8]} has no docker/container_id tag")
        return container

    # -- the Target -------------------------------------------------------------------------

    def day_rows(self) -> dict:
        """Per UTC day of the Source period: (rows, distinct writing transactions, their xmin)."""
        out = self.psql(
            "target-db",
            "SELECT (timestamp AT TIME ZONE 'UTC')::date, count(*), count(DISTINCT xmin::text), "
            "min(xmin::text) FROM data GROUP BY 1 ORDER BY 1",
        )
        rows = {}
        for line in out.splitlines():
            day, count, writers, xmin = line.split("|")
            rows[day] = (int(count), int(writers), xmin)
        return rows

    def target_rows(self) -> int:
        return int(self.psql("target-db", "SELECT count(*) FROM data"))

    def hold_day_lock(self, day: dt.date) -> None:
        """Take the loader's lock on `day` from a psql session in target-db, kept open."""
        sql = f"SELECT pg_advisory_lock({LOCK_NAMESPACE}, {epoch_day(day)}); SELECT pg_sleep(600)"
        args = [
            "docker", "compose", "--env-file", str(self.env_file), "exec", "-T",
            "-e", f"PGAPPNAME={LOCK_APP}", "target-db", "sh", "-c",
            'psql -X -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "$1"', "sh", sql,
        ]  # fmt: skip
        self.log.write(f"\n$ {' '.join(args)} &\n")
        holder = subprocess.Popen(
            args, cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.lock_holders.append(holder)
        self.poll(
            lambda: (
                self.psql(
                    "target-db",
                    LOCK_HELD_SQL,
                )
                == "1"
            ),
            30,
            f"the smoke's lock on {day}",
        )

    def release_day_locks(self) -> None:
        self.psql(
            "target-db",
            LOCK_RELEASE_SQL,
            check=False,
        )
        for holder in self.lock_holders:
            try:
                holder.wait(15)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait(5)
        self.lock_holders.clear()

    def wait_for_load_waiting(self, timeout: float = 120) -> None:
        """Until a run's load is waiting for the smoke's lock (its Target transaction is open)."""
        self.poll(
            lambda: (
                int(
                    self.psql(
                        "target-db",
                        LOAD_WAITING_SQL,
                    )
                )
                > 0
            ),
            timeout,
            "a run's load waiting for the day's lock",
        )

    @staticmethod
    def poll(ready, timeout: float, what: str, every: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(every)
        raise StepFailed(f"no {what} within {timeout:.0f} s")

    def check_whole_days(self, before: dict, days_: list) -> tuple:
        """Each day holds DAY_ROWS rows from one transaction: the old one or a new one."""
        after = self.day_rows()
        old = new = 0
        for day in (d.isoformat() for d in days_):
            count, writers, xmin = after.get(day, (0, 0, ""))
            if count != DAY_ROWS or writers != 1:
                raise StepFailed(f"{day}: {count} rows from {writers} transactions (a mix)")
            if day in before and before[day][2] == xmin:
                old += 1
            else:
                new += 1
        return old, new

    # -- steps ------------------------------------------------------------------------------

    def preflight(self) -> str:
        existing = (
            self.run(
                ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]
            ).stdout.split()
            + self.run(
                [
                    "docker",
                    "volume",
                    "ls",
                    "-q",
                    "--filter",
                    f"label=com.docker.compose.project={PROJECT}",
                ]
            ).stdout.split()
        )
        if existing and os.environ.get("SMOKE_ALLOW_DESTROY") != "1":
            raise StepFailed(
                f"a {PROJECT} deployment exists on this Docker host; this test would delete its "
                "data (docker compose down -v). Remove it first, or set SMOKE_ALLOW_DESTROY=1."
            )
        versions = self.run(["docker", "version", "-f", "{{.Server.Version}}"]).stdout.strip()
        compose = self.run(["docker", "compose", "version", "--short"]).stdout.strip()
        ports = ", ".join(
            f"{label} 127.0.0.1:{self.ports[name]}"
            for label, name in (
                ("UI", "WIND_UI_PORT"),
                ("API", "WIND_API_PORT"),
                ("Target", "WIND_TARGET_DB_PORT"),
            )
        )
        busy = f" ({', '.join(self.port_notes)}: free ports picked)" if self.port_notes else ""
        return f"Docker {versions}, Compose {compose}; ports: {ports}{busy}"

    def build(self) -> str:
        config = json.loads(self.compose("config", "--format", "json", quiet=True).stdout)
        services = config["services"]
        builders = sorted(name for name, s in services.items() if s.get("build"))
        images = {s["image"] for s in services.values()}
        if len(builders) != len(images):
            raise StepFailed(f"{len(builders)} services build {len(images)} images: {builders}")
        for name, service in services.items():
            if not service.get("build") and service.get("pull_policy") != "never":
                raise StepFailed(f"{name} runs a built image but may pull it")
        cold = os.environ.get("SMOKE_NO_CACHE") == "1"
        self.compose("build", *(["--no-cache"] if cold else []), timeout=3600)
        bases = []
        for name in builders:
            build = services[name]["build"]
            base = next(iter(build.get("args", {}).values()))
            image = services[name]["image"]
            layers = self.inspect_layers(image)
            base_layers = self.inspect_layers(base)
            if layers[: len(base_layers)] != base_layers:
                raise StepFailed(f"{image} is not built on {base}")
            bases.append(base)
        return (
            f"{len(images)} images{' (no cache)' if cold else ''}, each built once "
            f"({', '.join(builders)} build; "
            f"{len(services) - len(builders)} services reuse them) on {', '.join(sorted(set(bases)))}"
        )

    def inspect_layers(self, image: str) -> list:
        out = self.run(
            ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", image]
        ).stdout
        return json.loads(out)

    def up(self) -> str:
        self.compose(
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            str(int(self.wait_seconds)),
            timeout=self.wait_seconds + 120,
        )
        return self.service_states()

    def service_states(self) -> str:
        out = self.compose("ps", "-a", "--format", "json").stdout
        states = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(states) == 1 and isinstance(states[0], list):
            states = states[0]
        healthy, problems = [], []
        for s in states:
            name, state, health = s["Service"], s["State"], s.get("Health", "")
            if name == "bootstrap":
                if state != "exited" or s.get("ExitCode") != 0:
                    problems.append(f"bootstrap {state} ({s.get('ExitCode')})")
            elif state != "running" or health != "healthy":
                problems.append(f"{name} {state}/{health}")
            else:
                healthy.append(name)
        if problems or len(healthy) != 7:
            raise StepFailed(f"not healthy: {problems or healthy}")
        return f"{len(healthy)} services healthy, bootstrap exited 0"

    def bootstrap(self) -> str:
        source = int(self.psql("source-db", "SELECT count(*) FROM data"))
        signals = int(self.psql("target-db", "SELECT count(*) FROM signal"))
        if source != SOURCE_ROWS or signals != SIGNALS:
            raise StepFailed(f"Source {source} rows, Target {signals} signals")
        log = self.compose("logs", "--no-color", "--no-log-prefix", "bootstrap").stdout.strip()
        last = log.splitlines()[-1] if log else ""
        return f"Source {source:,} rows, Target {signals} signals; {last}"

    def reader(self) -> str:
        password = self.settings["CONEKTOR_READER_PASSWORD"]
        database = self.settings.get("SOURCE_DB_NAME", "wind_source")
        env = {**self.env, "PGPASSWORD": password}

        def as_reader(service: str, db: str, sql: str):
            return self.run(
                [
                    "docker", "compose", "--env-file", str(self.env_file), "exec", "-T",
                    "-e", "PGPASSWORD", service,
                    "psql", "-X", "-h", "127.0.0.1", "-U", "conektor_reader", "-d", db, "-tA",
                    "-v", "ON_ERROR_STOP=1", "-c", sql,
                ],
                check=False,
                env=env,
            )  # fmt: skip

        reads = as_reader("source-db", database, "SELECT count(*) FROM data")
        if reads.returncode != 0 or reads.stdout.strip() != str(SOURCE_ROWS):
            raise StepFailed(f"conektor_reader cannot read data: {reads.stderr.strip()}")
        read_only = as_reader("source-db", database, "SHOW default_transaction_read_only")
        if read_only.stdout.strip() != "on":
            raise StepFailed("conektor_reader's sessions are not read-only")
        refused = {
            "write": ("source-db", database, "BEGIN READ WRITE; DELETE FROM data; ROLLBACK"),
            "large object": ("source-db", database, "BEGIN READ WRITE; SELECT lo_from_bytea(0, 'x'); ROLLBACK"),
            "temp table": ("source-db", database, "BEGIN READ WRITE; CREATE TEMP TABLE t (x int); ROLLBACK"),
            "db postgres": ("source-db", "postgres", "SELECT 1"),
            "target-db": ("target-db", self.settings.get("TARGET_DB_NAME", "wind_target"), "SELECT 1"),
            "dagster-db": ("dagster-db", self.settings.get("DAGSTER_PG_DB", "dagster"), "SELECT 1"),
        }  # fmt: skip
        for what, (service, db, sql) in refused.items():
            result = as_reader(service, db, sql)
            if result.returncode == 0:
                raise StepFailed(f"conektor_reader was allowed: {what}")
            errors = [line for line in result.stderr.splitlines() if re.search("ERROR|FATAL", line)]
            reason = errors[0] if errors else result.stderr.strip() or "?"
            if not re.search(r"permission denied|authentication failed|does not exist", reason):
                raise StepFailed(f"conektor_reader {what}: unexpected error {reason!r}")
        return "conektor_reader reads data (read-only sessions); refused: " + ", ".join(refused)

    def partition(self) -> str:
        wait_for_location(self.ui, time.monotonic() + 300)
        day = dt.date(2024, 1, 5)
        started = time.monotonic()
        run_id = self.launch_run({"dagster/partition": day.isoformat()})
        run = self.wait_run(run_id)
        wall = time.monotonic() - started
        if run["status"] != "SUCCESS":
            raise StepFailed(f"run {run_id[:8]} {run['status']}")
        container = self.run_container(run)
        services = self.compose("ps", "-aq").stdout.split()
        if any(container.startswith(c) or c.startswith(container[:12]) for c in services):
            raise StepFailed("the run ran in a service's container")
        if run["tags"].get("dagster/image") != self.code_image:
            raise StepFailed(f"run image {run['tags'].get('docker/image')}, not {self.code_image}")
        launched = [
            e
            for e in self.events(run_id)
            if "Launching run in a new container" in (e.get("message") or "")
        ]
        if not launched:
            raise StepFailed("no 'Launching run in a new container' event")
        rows = self.day_rows().get(day.isoformat(), (0, 0, ""))[0]
        if rows != DAY_ROWS:
            raise StepFailed(f"the Target holds {rows} rows for {day}")
        return (
            f"run {run_id[:8]} SUCCESS in container {container[:12]} ({self.code_image}); "
            f"{rows:,} rows for {day}; run {run['endTime'] - run['startTime']:.1f} s, "
            f"launch to end {wall:.1f} s"
        )

    def api(self) -> str:
        port = self.ports["WIND_API_PORT"]
        mapped = self.compose("port", "conektor-api", "8000").stdout.strip()
        if mapped != f"127.0.0.1:{port}":
            raise StepFailed(f"the API is published on {mapped}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            if response.status != 200:
                raise StepFailed(f"/health answered {response.status}")
        others = sorted(self.host_addresses())
        for address in others:
            with socket.socket() as sock:
                sock.settimeout(3)
                if sock.connect_ex((address, port)) == 0:
                    raise StepFailed(f"the API answers on {address}:{port}")
        return (
            f"/health 200 on 127.0.0.1:{port}; refused on {', '.join(others) or 'no other address'}"
        )

    @staticmethod
    def host_addresses() -> set:
        """This host's non-loopback IPv4 addresses."""
        found = set()
        try:
            out = subprocess.run(
                ["hostname", "-I"], capture_output=True, text=True, timeout=10
            ).stdout
            found.update(a for a in out.split() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a))
        except (OSError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(OSError):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.connect(("192.0.2.1", 9))  # no packet is sent
                found.add(sock.getsockname()[0])
        return {a for a in found if not a.startswith("127.")}

    def backfill(self) -> str:
        started = time.monotonic()
        backfill_id = self.launch_backfill(FIRST_DAY, SOURCE_DAYS)
        run = self.backfill_run(backfill_id)
        run = self.wait_run(run["runId"])
        wall = time.monotonic() - started
        runs = self.runs({"dagster/backfill": backfill_id})
        if len(runs) != 1 or run["status"] != "SUCCESS":
            raise StepFailed(
                f"backfill {backfill_id}: {[(r['runId'][:8], r['status']) for r in runs]}"
            )
        last = FIRST_DAY + dt.timedelta(days=SOURCE_DAYS - 1)
        tags = run["tags"]
        if (
            tags.get("dagster/asset_partition_range_start"),
            tags.get("dagster/asset_partition_range_end"),
        ) != (
            FIRST_DAY.isoformat(),
            last.isoformat(),
        ):
            raise StepFailed(f"range tags {tags}")
        container = self.run_container(run)
        rows = self.target_rows()
        per_day = self.day_rows()
        if rows != SOURCE_DAYS * DAY_ROWS or any(v[:2] != (DAY_ROWS, 1) for v in per_day.values()):
            raise StepFailed(f"the Target holds {rows} rows: {per_day}")
        return (
            f"backfill {backfill_id}: 1 run ({run['runId'][:8]}, range {FIRST_DAY}..{last}) in "
            f"container {container[:12]}; {rows:,} rows; run {run['endTime'] - run['startTime']:.1f} s, "
            f"launch to end {wall:.1f} s"
        )

    def terminate(self) -> str:
        before = self.day_rows()
        held = FIRST_DAY + dt.timedelta(days=5)
        self.hold_day_lock(held)
        try:
            backfill_id = self.launch_backfill(FIRST_DAY, SOURCE_DAYS)
            run_id = self.backfill_run(backfill_id)["runId"]
            self.wait_for_load_waiting()
            asked = time.monotonic()
            result = self.gql(TERMINATE, {"runId": run_id})["terminateRun"]
            if result["__typename"] != "TerminateRunSuccess":
                raise StepFailed(f"terminateRun: {result['__typename']} {result.get('message')}")
            run = self.wait_run(run_id, timeout=240)
            took = time.monotonic() - asked
        finally:
            self.release_day_locks()
        if run["status"] != "CANCELED":
            raise StepFailed(f"run {run_id[:8]} ended {run['status']} after Terminate")
        # Nothing may run the step again after the cancellation: no retry, no new run.
        time.sleep(10)
        events = self.events(run_id)
        retried = [
            e for e in events if e.get("eventType") in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")
        ]
        runs = self.runs({"dagster/backfill": backfill_id})
        if retried or len(runs) != 1 or self.get_run(run_id)["status"] != "CANCELED":
            raise StepFailed(f"after Terminate: {len(retried)} step retries, {len(runs)} runs")
        old, new = self.check_whole_days(before, days(FIRST_DAY, SOURCE_DAYS))
        # The backfill daemon then closes the backfill (its next tick), without another run.
        final = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
        status = "?"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = self.gql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"].get(
                "status"
            )
            if status in final:
                break
            time.sleep(2)
        else:
            raise StepFailed(f"backfill {backfill_id} still {status} after the run was canceled")
        if len(self.runs({"dagster/backfill": backfill_id})) != 1:
            raise StepFailed(f"backfill {backfill_id} launched another run after Terminate")
        return (
            f"run {run_id[:8]} (load waiting on {held}'s lock) CANCELED {took:.1f} s after "
            f"Terminate, no retry, backfill {status}; days wholly old: {old}, wholly new: {new}"
        )

    @contextlib.contextmanager
    def run_waiting_on_its_lock(self, day: dt.date):
        """A run of `day` launched while its load lock is held: yields its id once the load
        waits for the lock, and releases the lock on leaving."""
        self.hold_day_lock(day)
        try:
            run_id = self.launch_run({"dagster/partition": day.isoformat()})
            self.wait_run(run_id, timeout=300, until={"STARTED", *FINISHED})
            self.wait_for_load_waiting()
            yield run_id
        finally:
            self.release_day_locks()

    def kill(self) -> str:
        day = FIRST_DAY + dt.timedelta(days=6)
        before = self.day_rows()
        with self.run_waiting_on_its_lock(day) as run_id:
            container = self.run_container(self.get_run(run_id))
            self.run(["docker", "kill", container])
            killed = time.monotonic()
        run = self.wait_run(run_id, timeout=600)
        took = time.monotonic() - killed
        messages = [e.get("message") or "" for e in self.events(run_id)]
        resumed = sum("Resuming run" in m for m in messages)
        failed = any("Marking run" in m and "as failed" in m for m in messages)
        if not resumed and not failed:
            raise StepFailed(f"run {run_id[:8]} ended {run['status']}, not by run monitoring")
        retries = [r for r in self.runs({"dagster/parent_run_id": run_id})]
        for retry in retries:
            self.wait_run(retry["runId"])
        old, new = self.check_whole_days(before, [day])
        how = f"resumed {resumed}x" if resumed else "marked failed"
        retry_note = f", retried as run {retries[0]['runId'][:8]}" if retries else ""
        return (
            f"run {run_id[:8]}: container killed mid-load; run monitoring {how} -> {run['status']} "
            f"{took:.0f} s later{retry_note}; {day} wholly {'new' if new else 'old'}"
        )

    def restart(self) -> str:
        day = FIRST_DAY + dt.timedelta(days=7)
        before = self.day_rows()
        with self.run_waiting_on_its_lock(day) as run_id:
            started = time.monotonic()
            self.compose("restart", "target-db")
            restarted = time.monotonic() - started
        run = self.wait_run(run_id)
        events = self.events(run_id)
        retries = sum(e.get("eventType") == "STEP_UP_FOR_RETRY" for e in events)
        if run["status"] != "SUCCESS" or retries < 1:
            raise StepFailed(f"run {run_id[:8]} {run['status']} with {retries} step retries")
        old, new = self.check_whole_days(before, [day])
        if new != 1:
            raise StepFailed(f"{day} was not rewritten")
        return (
            f"target-db restarted ({restarted:.1f} s) during run {run_id[:8]}'s load; "
            f"{retries} step retr{'y' if retries == 1 else 'ies'} -> SUCCESS; {day} wholly new"
        )

    def down_up(self) -> str:
        rows_before = self.target_rows()
        runs_before = len(self.runs())
        # The containers' logs so far go with them: keep them for the secrets step.
        self.earlier_logs = self.compose("logs", "--no-color", quiet=True).stdout
        started = time.monotonic()
        self.compose("down", timeout=300)
        down = time.monotonic() - started
        started = time.monotonic()
        self.compose(
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            str(int(self.wait_seconds)),
            timeout=self.wait_seconds + 120,
        )
        up = time.monotonic() - started
        self.service_states()
        wait_for_location(self.ui, time.monotonic() + 300)
        rows, runs = self.target_rows(), len(self.runs())
        source = int(self.psql("source-db", "SELECT count(*) FROM data"))
        if (rows, source) != (rows_before, SOURCE_ROWS) or runs < runs_before:
            raise StepFailed(
                f"after down/up: Target {rows} rows (was {rows_before}), runs {runs} (was {runs_before})"
            )
        boot = (
            self.compose("logs", "--no-color", "--no-log-prefix", "bootstrap")
            .stdout.strip()
            .splitlines()
        )
        boot_line = re.sub(r"^bootstrap: ", "", boot[-1]) if boot else "?"
        return (
            f"down {down:.1f} s, up {up:.1f} s; Target {rows:,} rows, Source {source:,}, "
            f"{runs} runs kept; bootstrap {boot_line}"
        )

    def users(self) -> str:
        seen = []
        for service in ("dagster-webserver", "dagster-daemon", "code-location", "conektor-api"):
            uid = self.compose("exec", "-T", service, "id", "-u").stdout.strip()
            name = self.compose("exec", "-T", service, "id", "-un").stdout.strip()
            if uid == "0":
                raise StepFailed(f"{service} runs as root")
            seen.append(f"{service} {name}({uid})")
        user = self.run(
            ["docker", "image", "inspect", "-f", "{{.Config.User}}", self.code_image]
        ).stdout.strip()
        if user in ("", "root", "0"):
            raise StepFailed(f"run containers ({self.code_image}) run as root")
        return ", ".join(seen) + f"; run containers as {user}"

    def secrets(self) -> str:
        values = set(self.passwords.values())
        places = {}
        logs = self.compose("logs", "--no-color", quiet=True)
        places["container logs"] = self.earlier_logs + logs.stdout + logs.stderr
        places["compute logs"] = self.compose(
            "exec", "-T", "dagster-webserver", "sh", "-c",
            "find /opt/dagster/compute_logs -type f -exec cat {} +", quiet=True,
        ).stdout  # fmt: skip
        dump = self.compose(
            "exec", "-T", "dagster-db", "sh", "-c",
            'pg_dump --data-only -U "$POSTGRES_USER" -d "$POSTGRES_DB"', quiet=True,
        ).stdout  # fmt: skip
        if "event_logs" not in dump:
            raise StepFailed("the dump of Dagster's database holds no event log")
        places["event log"] = dump
        config = self.compose("config", quiet=True).stdout
        if not any(v in config for v in values):
            raise StepFailed("`docker compose config` shows no password: the check would be blind")
        files = self.run(["git", "ls-files", "-z", "-co", "--exclude-standard"]).stdout.split("\0")
        checkout = []
        for name in filter(None, files):
            path = REPO / name
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if path.is_file() and path.stat().st_size < 20_000_000:
                    checkout.append(path.read_text())
        places["checkout files"] = "\n".join(checkout)
        leaks = [where for where, text in places.items() if any(v in text for v in values)]
        if leaks:
            raise StepFailed(f"a password appears in: {', '.join(leaks)}")
        sizes = ", ".join(f"{where} {len(text) // 1024} KiB" for where, text in places.items())
        return f"none of the {len(values)} passwords in: {sizes}"

    def down_v(self) -> str:
        self.cleanup_run_containers()
        self.compose("down", "-v", "--remove-orphans", timeout=300)
        left = self.run(
            [
                "docker",
                "volume",
                "ls",
                "-q",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
            ]
        ).stdout.split()
        left += self.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]
        ).stdout.split()
        network = self.run(
            ["docker", "network", "ls", "-q", "--filter", "name=^wind_pipeline_network$"]
        ).stdout.split()
        if left or network:
            raise StepFailed(f"left behind: {left + network}")
        return "containers, volumes (data, compute logs) and network removed"

    def cleanup_run_containers(self) -> None:
        ids = self.run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                "label=dagster/run_id",
                "--filter",
                "network=wind_pipeline_network",
            ],
            check=False,
        ).stdout.split()
        if ids:
            self.run(["docker", "rm", "-f", *ids], check=False)

    def diagnostics(self) -> None:
        with contextlib.suppress(Exception):
            self.compose("ps", "-a", check=False)
            self.compose("logs", "--no-color", "--tail", "200", check=False)
        tail = self.log_path.read_text(errors="replace").splitlines()[-60:]
        print("compose-smoke: the log's last lines:\n  " + "\n  ".join(tail), file=sys.stderr)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="compose-smoke-"))
    os.chmod(workdir, 0o700)
    try:
        smoke = Smoke(workdir)
    except StepFailed as exc:
        print(f"compose-smoke: FAILED {exc}", file=sys.stderr)
        return 1
    print(f"compose-smoke: commands' output in {smoke.log_path}", flush=True)
    steps = [
        ("preflight", smoke.preflight),
        ("build", smoke.build),
        ("up", smoke.up),
        ("bootstrap", smoke.bootstrap),
        ("reader", smoke.reader),
        ("partition", smoke.partition),
        ("api", smoke.api),
        ("backfill", smoke.backfill),
        ("terminate", smoke.terminate),
        ("kill", smoke.kill),
        ("restart", smoke.restart),
        ("down/up", smoke.down_up),
        ("users", smoke.users),
        ("secrets", smoke.secrets),
        ("down -v", smoke.down_v),
    ]
    keep = os.environ.get("SMOKE_KEEP") == "1"
    if keep:
        steps = steps[:-1]
    only = os.environ.get("SMOKE_ONLY")
    if only:  # development: some steps against a deployment left up by SMOKE_KEEP=1
        steps = [(name, action) for name, action in steps if name in only.split(",")]
        keep = True
    status = 0
    started = time.monotonic()
    try:
        for name, action in steps:
            smoke.step(name, action)
    except (StepFailed, SmokeError, subprocess.TimeoutExpired):
        status = 1
        smoke.diagnostics()
    except KeyboardInterrupt:
        status = 130
    finally:
        with contextlib.suppress(Exception):
            smoke.release_day_locks()
        torn_down = bool(smoke.results) and smoke.results[-1]["step"] == "down -v" and status == 0
        if not keep and not torn_down:
            with contextlib.suppress(Exception):
                smoke.cleanup_run_containers()
                smoke.compose("down", "-v", "--remove-orphans", check=False, timeout=300)
        report = os.environ.get("SMOKE_REPORT")
        if report:
            Path(report).write_text(json.dumps(smoke.results, indent=2) + "\n")
        smoke.close()
        if keep:
            print(f"compose-smoke: left up (SMOKE_KEEP=1); env file {smoke.env_file}", flush=True)
        elif not os.environ.get("SMOKE_ENV_FILE"):
            smoke.env_file.unlink(missing_ok=True)  # the throw-away passwords; the log stays
    total = time.monotonic() - started
    verdict = "OK" if status == 0 else "FAILED"
    print(
        f"compose-smoke: {verdict}: {sum(r['ok'] for r in smoke.results)}/{len(steps)} steps in {total:.0f} s",
        flush=True,
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
