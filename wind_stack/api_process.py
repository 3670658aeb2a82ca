"""The Conektor API as a background uvicorn process, remembered by a pid file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from wind_stack import REPO_ROOT, StackError
from wind_stack.net import wait_for_http


def api_command(port: int, *extra: str) -> list[str]:
    """The command line that serves the Conektor on 127.0.0.1:`port` (`python -m api_service`:
    uvicorn with no server banner; `--log-file PATH` gives it a rotating log)."""
    return [
        sys.executable,
        "-m",
        "api_service",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


class ApiProcess:
    """The API served on 127.0.0.1:`port`; its pid and log live in `folder`."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.folder / "api.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "api.log"

    def pid(self) -> int | None:
        """The running API's pid, or None (a pid file can outlive its process)."""
        try:
            pid = int(self.pid_file.read_text().strip())
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

    def start(self, env: dict[str, str]) -> None:
        """Start the API with `env` (unless it runs) and wait until it answers /health."""
        if self.pid() is not None:
            return
        self.pid_file.unlink(missing_ok=True)
        # The API logs to api.log itself (rotated); the child's own stdout/stderr (only what
        # escapes logging, e.g. an interpreter crash) go to api.out, which a rotation leaves alone.
        log = open(self.folder / "api.out", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            api_command(self.port, "--log-file", str(self.log_file)),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(str(proc.pid))
        if not wait_for_http(f"{self.url}/health", timeout=30):
            raise StackError(
                f"the Conektor API did not become healthy on {self.url} (log {self.log_file})"
            )

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            proc = psutil.Process(pid)
            proc.terminate()
            try:
                proc.wait(10)
            except psutil.TimeoutExpired:
                proc.kill()
        self.pid_file.unlink(missing_ok=True)
