"""Tools for the fault-injection tests: real breakage, nothing mocked.

- `FaultyProxy`: a loopback TCP proxy in front of the real API that resets connections or
  cuts responses part-way through the body.
- `start_loader` / `start_paused_loader`: the real ETL in a subprocess (`wind-etl`, or this
  module's `__main__` for a range of days), optionally paused inside the load transaction by
  the test-only hook in `wind_pipeline/etl/load.py`, so a test can kill it there.
- `advisory_locks`: who holds and who waits for the per-day load locks (from `pg_locks`).

Run as `python -m wind_pipeline_tests.support.faultkit DAY [DAY ...]` it runs the ETL for those
consecutive days with the settings from the environment, like `wind-etl` for a range.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from wind_pipeline.etl.load import _LOCK_NAMESPACE, FAULT_PAUSE_ENV, FAULT_READY_FILE_ENV
from wind_stack.net import free_port

if TYPE_CHECKING:
    import dagster as dg

BIN = Path(sys.executable).parent
WIND_ETL = str(BIN / "wind-etl")
RANGE_LOADER = [sys.executable, "-m", "wind_pipeline_tests.support.faultkit"]


def dagster_materialize(partition: str) -> list[str]:
    """The design card's command: `dagster asset materialize` of one aggregates partition."""
    return [
        str(BIN / "dagster"),
        *("asset", "materialize", "-m", "wind_pipeline.definitions"),
        *("--select", "wind_10min_aggregates", "--partition", partition),
    ]


_counter = itertools.count()


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll `predicate` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# -- a proxy that breaks the API's responses ------------------------------------------------


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wake the thread blocked reading this socket, or the close waits for it (no RST).
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class FaultyProxy:
    """A loopback TCP proxy in front of a real server; each new connection gets a mode.

    Modes: `pass` forwards everything; `reset` resets the connection as soon as it is
    accepted (the server looks unreachable); `cut` forwards the response headers and half
    the body (at most `cut_body_bytes`), then closes (a truncated body); `cut-reset` does the
    same, then resets. `modes` are used in order, then `then` for every further connection.
    """

    def __init__(
        self,
        upstream_port: int,
        modes: Iterable[str] = (),
        then: str = "pass",
        cut_body_bytes: int = 4096,
    ):
        self.upstream_port = upstream_port
        self._modes = list(modes)
        self._then = then
        self.cut_body_bytes = cut_body_bytes
        self.connections: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", free_port()))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = len(self.connections)
                mode = self._modes[index] if index < len(self._modes) else self._then
                self.connections.append(mode)
            threading.Thread(target=self._handle, args=(client, mode), daemon=True).start()

    def _handle(self, client: socket.socket, mode: str) -> None:
        if mode == "reset":
            _reset(client)
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        try:
            if mode == "pass":
                _pump(upstream, client)
            else:
                self._cut(upstream, client, reset=mode == "cut-reset")
        finally:
            upstream.close()
            client.close()

    def _cut(self, upstream: socket.socket, client: socket.socket, reset: bool) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = upstream.recv(65536)
            if not chunk:
                break
            head += chunk
        header_end = head.find(b"\r\n\r\n") + 4
        length = 0
        for line in head[:header_end].split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        allowed = header_end + min(self.cut_body_bytes, length // 2)
        client.sendall(head[:allowed])
        sent = min(len(head), allowed)
        while sent < allowed:
            chunk = upstream.recv(min(65536, allowed - sent))
            if not chunk:
                break
            client.sendall(chunk)
            sent += len(chunk)
        if reset:
            _reset(client)
        else:
            client.shutdown(socket.SHUT_RDWR)


# -- the ETL in a subprocess, optionally paused inside the load transaction -----------------


# A folder with no `.env`: as WIND_STACK_ROOT, no checkout's settings (a developer's own stack,
# in live mode or not) reach a subprocess beyond what the test gives it.
NO_STACK_ROOT = Path(__file__).parent


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """The current environment without any WIND_* setting or checkout `.env`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIND_")}
    env["WIND_STACK_ROOT"] = str(NO_STACK_ROOT)
    env.update(extra)
    return env


@dataclass
class Loader:
    """An ETL process; `ready_file` is set when it was started with a pause point."""

    proc: subprocess.Popen
    ready_file: Path | None = None

    def release(self) -> None:
        assert self.ready_file is not None
        self.ready_file.with_name(self.ready_file.name + ".release").touch()

    def is_paused(self) -> bool:
        """Still waiting at its pause point (alive, and not released)."""
        assert self.ready_file is not None
        released = self.ready_file.with_name(self.ready_file.name + ".release").exists()
        return self.proc.poll() is None and not released

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup, no rollback from the client side
        self.proc.wait(30)

    def finish(self, timeout: float = 180) -> subprocess.CompletedProcess:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)


def start_loader(command: list[str], env: dict[str, str]) -> Loader:
    proc = subprocess.Popen(
        command,
        env=subprocess_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Loader(proc)


def start_paused_loader(
    command: list[str], env: dict[str, str], point: str, scratch: Path, timeout: float = 90
) -> Loader:
    """Start the ETL and wait until it pauses at `point` inside `replace_window`."""
    ready = scratch / f"loader-{os.getpid()}-{next(_counter)}.ready"
    loader = start_loader(
        command, {**env, FAULT_PAUSE_ENV: point, FAULT_READY_FILE_ENV: str(ready)}
    )
    loader.ready_file = ready
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if loader.proc.poll() is not None:
            result = loader.finish()
            raise AssertionError(f"loader exited before {point}: {result.stderr[-2000:]}")
        if time.monotonic() > deadline:
            loader.kill()
            raise AssertionError(f"loader did not reach {point}")
        time.sleep(0.02)
    return loader


# -- the per-day load locks ------------------------------------------------------------------


@dataclass(frozen=True)
class AdvisoryLock:
    epoch_day: int
    granted: bool
    pid: int


def advisory_locks(url: str) -> list[AdvisoryLock]:
    """The per-day load locks in the Target's database, held (granted) or awaited."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT objid::bigint, granted, pid FROM pg_locks "
                "WHERE locktype = 'advisory' AND objsubid = 2 AND classid = CAST(:ns AS oid) "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": _LOCK_NAMESPACE},
        ).all()
    engine.dispose()
    return [AdvisoryLock(int(day), bool(granted), int(pid)) for day, granted, pid in rows]


def epoch_day(text: str) -> int:
    from datetime import date

    return (date.fromisoformat(text) - date(1970, 1, 1)).days


# -- Dagster ---------------------------------------------------------------------------------


def materialize(
    api_url: str, target_url: str, *, max_attempts: int = 4, **kwargs: object
) -> dg.ExecuteInProcessResult:
    """`wind_10min_aggregates` in process, with short client retry delays and no step retries.

    These tests look at what the client's retries and the load transaction do; how the asset's
    step-level retry policy composes with them is tested in test_retries.py.
    """
    import dagster as dg

    from wind_pipeline.assets.aggregates import build_wind_10min_aggregates
    from wind_pipeline.resources import ConektorClient, TargetDatabase

    return dg.materialize(
        [build_wind_10min_aggregates(retry_policy=dg.RetryPolicy(max_retries=0))],
        resources={
            "conektor": ConektorClient(
                base_url=api_url, backoff_seconds=0.02, max_attempts=max_attempts
            ),
            "target_db": TargetDatabase(url=target_url),
        },
        raise_on_error=False,
        **kwargs,
    )


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every error message of the run (step, resource and run failures), causes included."""
    parts = []
    for event in result.all_events:
        data = event.event_specific_data
        user_data = getattr(data, "user_failure_data", None)
        if user_data is not None:
            parts.append(user_data.description or "")
        error = getattr(data, "error", None)
        while error is not None:
            parts.append(error.message)
            error = error.cause
    return "\n".join(parts)


def error_chain(event: dg.DagsterEvent) -> list[str]:
    """The error a failure event stores, then every error chained to it, as the UI shows them."""
    chain, error = [], getattr(event.event_specific_data, "error", None)
    while error is not None:
        chain.append(error.message)
        error = error.cause or error.context
    return chain


def one_line_failure(events: Iterable[dg.DagsterEvent]) -> str:
    """The run's failure reason, checked to be one line standing alone: the step failure's
    description, which the STEP_FAILURE and the RUN_FAILURE both carry as their only error."""
    import dagster as dg

    events = list(events)
    (step,) = [e for e in events if e.is_step_failure]
    (run,) = [e for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    user = step.step_failure_data.user_failure_data
    if user is None or not user.description:
        raise AssertionError(f"the step failed with no description: {error_chain(step)}")
    line = user.description
    expected = [f"dagster._core.definitions.events.Failure: {line}\n"]
    for event in (step, run):
        if "\n" in line or error_chain(event) != expected:
            raise AssertionError(f"{event.event_type_value} is not one line: {error_chain(event)}")
    return line


def _main(argv: list[str]) -> int:
    from datetime import date

    from wind_pipeline.db import make_engine
    from wind_pipeline.etl.conektor_client import ConektorSession
    from wind_pipeline.etl.pipeline import run_etl
    from wind_pipeline.settings import load_settings

    settings = load_settings("target_db_url", "api_url")
    engine = make_engine(settings.target_db_url)
    try:
        with ConektorSession(settings.api_url, backoff_seconds=0.02) as session:
            result = run_etl(session, engine, [date.fromisoformat(day) for day in argv])
    finally:
        engine.dispose()
    print(f"wrote {result.rows_written} rows for {len(result.days)} days")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
