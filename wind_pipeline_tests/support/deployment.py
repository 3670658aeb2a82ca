"""Helpers for the deployment tests: read docker-compose.yml as Compose would, and run the
containers' commands natively (same command lines, same environment variable names)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
import yaml

from wind_pipeline_tests.support.helpers import REPO_ROOT
from wind_stack.env_file import read_env_file

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DAGSTER_YAML = REPO_ROOT / "dagster.yaml"
WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"

# Where a setting the compose file does not give a service would lead: nowhere. A service
# that needs a variable compose forgot then fails loudly instead of falling back to the
# local stack's defaults.
UNREACHABLE = {
    "WIND_SOURCE_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/unset_in_compose",
    "WIND_TARGET_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/unset_in_compose",
    "WIND_API_URL": "http://127.0.0.1:1",
    "WIND_API_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/unset_in_compose",
}

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, and $$ for a literal $."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"]
        value = env.get(name)
        missing = (not value) if op and op.startswith(":") else value is None
        if op and op.endswith("-") and missing:
            return arg
        if op and op.endswith("?") and missing:
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, env) for key, value in node.items()}
    return node


def load_script(path: Path) -> ModuleType:
    """A stand-alone script beside the deployment (docker/smoke/...), imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_compose() -> dict[str, Any]:
    """docker-compose.yml parsed (anchors merged), variables not yet substituted."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml as Compose sees it with `env` as .env (default: .env.example)."""
    return _interpolate_tree(raw_compose(), read_env_file(ENV_EXAMPLE) if env is None else env)


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def native_command(
    command: list[str], ports: Mapping[int, int], host: str = "127.0.0.1"
) -> list[str]:
    """A container's command line for this machine: 0.0.0.0 becomes `host`, and each container
    port (as `-p N`, `--port N` or `:N/` in a URL) becomes the mapped local port."""
    native = []
    previous = ""
    for arg in command:
        if arg == "0.0.0.0":
            arg = host
        elif previous in ("-p", "--port") and int(arg) in ports:
            arg = str(ports[int(arg)])
        else:
            for container_port, local_port in ports.items():
                arg = arg.replace(f":{container_port}/", f":{local_port}/")
        native.append(arg)
        previous = arg
    return native


def image_environment(dagster_home: Path, compute_logs: Path) -> dict[str, str]:
    """What the images' ENV gives every container, with this machine's folders."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_COMPUTE_LOGS_DIR": str(compute_logs),
    }


def service_environment(
    service: Mapping[str, Any], values: Mapping[str, str], base: Mapping[str, str]
) -> dict[str, str]:
    """`base` plus exactly the variables compose gives `service`, with this machine's values.

    A variable compose gives the service but `values` lacks keeps its compose value (e.g. an
    image name); settings compose does not give it point nowhere (UNREACHABLE).
    """
    env = {**base, **UNREACHABLE}
    for key, value in environment_of(service).items():
        env[key] = values.get(key, value)
    return env


def storage_values(database_url: str) -> dict[str, str]:
    """DAGSTER_PG_* for a database on the test server."""
    url = sa.make_url(database_url)
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        # The embedded test server trusts loopback connections; dagster.yaml requires a value.
        "DAGSTER_PG_PASSWORD": url.password or "unused-by-trust-auth",
        "DAGSTER_PG_DB": url.database or "postgres",
    }


def make_dagster_home(path: Path, transform: Callable[[dict], dict] | None = None) -> Path:
    """A DAGSTER_HOME holding the committed dagster.yaml, verbatim unless `transform` is given."""
    path.mkdir(parents=True, exist_ok=True)
    if transform is None:
        shutil.copy(DAGSTER_YAML, path / "dagster.yaml")
    else:
        config = transform(yaml.safe_load(DAGSTER_YAML.read_text()))
        (path / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class NativeProcess:
    """A container's command run as a local process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], cwd: Path):
        self.name = name
        self.command = command
        self.log_path = cwd / f"{name}.log"
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.process.returncode}) before {what}:\n"
                    f"{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}: no {what} within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass
        # The group may hold children (e.g. a run worker) after its leader exited.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


def run_command(
    command: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
