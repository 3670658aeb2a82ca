"""The API as the local stack runs it: `python -m api_service` in its own process, with its
log in a (rotating) file the tests can read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass
class ApiProcess:
    url: str
    log_file: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        """Everything logged so far, rotated files included, oldest first."""
        files = sorted(self.log_file.parent.glob(self.log_file.name + ".*"), reverse=True)
        return "".join(path.read_text() for path in [*files, self.log_file] if path.exists())


@pytest.fixture
def serve_api_process(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Factory: serve `python -m api_service --log-file ...` for a database URL; stopped after."""
    from wind_stack.net import free_port

    started: list[subprocess.Popen] = []

    def serve(db_url: str, *args: str) -> ApiProcess:
        port = free_port()
        log_file = tmp_path / f"api-{port}" / "api.log"
        log_file.parent.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIND_")}
        env["WIND_API_DB_URL"] = db_url
        command = [sys.executable, "-m", "api_service", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--log-file", str(log_file), *args],
            cwd=tmp_path,  # no .env of the checkout
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return ApiProcess(url, log_file, process)
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            process_wait(process, 0.1)
        raise RuntimeError(f"python -m api_service did not start; log:\n{_tail(log_file)}")

    yield serve
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_wait(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path) -> str:
    return "\n".join(path.read_text().splitlines()[-20:]) if path.exists() else "(no log)"
