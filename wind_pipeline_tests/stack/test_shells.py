"""A newcomer's shells: with the venv activated or not, at the checkout's root after `make up`,
or from another folder, every documented command works or fails in one line (issue 14, 1-4).

A scratch folder stands for the checkout: its own stack (`wind-stack up` with WIND_STACK_ROOT,
as `make up` does in a checkout), copies of the repo root's pyproject.toml, the Compose
dagster.yaml and workspace.yaml (the files Dagster's CLI picks up from the working folder), and
a link to the package (where `dg` looks for it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from wind_pipeline_tests.support.helpers import REPO_ROOT, stop_process_group
from wind_stack.env_file import read_env_file
from wind_stack.net import free_port

BIN = Path(sys.executable).parent


def _shell_env(**extra: str) -> dict[str, str]:
    """A new terminal: nothing of ours exported, the venv not on PATH."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WIND_", "DAGSTER_")) and k != "VIRTUAL_ENV"
    }
    return {**env, "PATH": path, **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _activated(command: str) -> list[str]:
    """`command` in bash after `source .venv/bin/activate`, as the README says."""
    return ["bash", "-c", f"source {BIN / 'activate'} && {command}"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "dagster.yaml", "workspace.yaml"):
        shutil.copy(REPO_ROOT / name, root / name)
    # `dg` looks for the project's root module inside the project folder.
    (root / "wind_pipeline").symlink_to(REPO_ROOT / "wind_pipeline")
    # What `make up` / `make run` do: the Makefile exports DAGSTER_HOME for them.
    make_env = _shell_env(WIND_STACK_ROOT=str(root), DAGSTER_HOME=str(root / ".dagster_home"))
    (root / ".dagster_home").mkdir()
    try:
        for args in (
            [str(BIN / "wind-stack"), "up"],
            [str(BIN / "python"), "-m", "wind_stack.run_all"],
        ):
            done = _run(args, root, make_env)
            assert done.returncode == 0, done.stderr[-2000:]
        yield root
    finally:
        _run([str(BIN / "wind-stack"), "down"], root, make_env)


def _runs(checkout: Path) -> int:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(checkout / ".dagster_home"))
    try:
        return instance.get_runs_count()
    finally:
        instance.dispose()


def _quiet(done: subprocess.CompletedProcess) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "Warning:" not in output, output[-3000:]
    return output


def test_env_carries_dagster_home_so_the_compose_dagster_yaml_is_not_read(checkout):
    assert read_env_file(checkout / ".env")["DAGSTER_HOME"] == str(checkout / ".dagster_home")


def test_without_activating_the_venv_dagster_and_dg_work_at_the_root(checkout):
    """Case 2: `.venv/bin/dagster ...` and `.venv/bin/dg ...`, no DAGSTER_HOME exported."""
    env = _shell_env()
    before = _runs(checkout)
    done = _run(
        [
            str(BIN / "dg"),
            "launch",
            "--assets",
            "wind_10min_aggregates",
            "--partition",
            "2024-01-06",
        ],
        checkout,
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _quiet(done)
    done = _run(
        [
            str(BIN / "dagster"),
            *("asset", "materialize", "-m", "wind_pipeline.definitions"),
            *("--select", "wind_10min_aggregates", "--partition", "2024-01-05"),
        ],
        checkout,
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    # Both runs are in this checkout's instance (the stack's `dagster` database).
    assert _runs(checkout) == before + 2


def test_the_activated_venv_exports_nothing_of_ours(checkout):
    """Case 1: DAGSTER_MODULE_NAME in the environment makes `dagster dev`'s webserver and daemon
    hang without a word, and an exported DAGSTER_HOME makes Dagster warn about the Compose
    dagster.yaml at the root; activating is plain, the settings come from `.env`."""
    done = _run(_activated("env"), checkout, _shell_env())
    exported = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert exported["VIRTUAL_ENV"] == str(BIN.parent)
    assert not [name for name in exported if name.startswith(("DAGSTER_", "WIND_"))]


def _graphql(url: str, query: str) -> dict:
    return httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]


def _serve(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for_location(url: str, process: subprocess.Popen, log: Path) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            entries = _graphql(url, query)["workspaceOrError"]["locationEntries"]
            if [(e["name"], e["loadStatus"]) for e in entries] == [("wind_pipeline", "LOADED")]:
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise AssertionError("the UI never served the wind_pipeline location: " + log.read_text())


_SCHEDULE = """
{ scheduleOrError(scheduleSelector: {repositoryLocationName: "wind_pipeline",
    repositoryName: "__repository__", scheduleName: "wind_etl_daily_schedule"}) {
  ... on Schedule { scheduleState { status } } } }
"""


@pytest.mark.parametrize("shell", ["activated: dagster dev", "activated: dg dev", "make dev"])
def test_the_ui_serves_one_location_and_shows_the_schedule_the_cli_started(checkout, shell):
    """Cases 1 and 4: `dagster dev` / `dg dev` with the venv active, and `make dev`'s
    `.venv/bin/dg dev`, serve the one `wind_pipeline` location; `dagster schedule start` from the
    same kind of shell starts the schedule the UI shows."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = checkout / "dev.log"
    env = _shell_env()
    if shell.startswith("activated"):
        cli = shell.split(": ")[1]
        serve = _activated(f"exec {cli} -h 127.0.0.1 -p {port}")
        schedule = [
            _activated(f"dagster schedule {verb} wind_etl_daily_schedule")
            for verb in ("start", "stop")
        ]
    else:
        serve = [str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)]
        schedule = [
            [str(BIN / "dagster"), "schedule", verb, "wind_etl_daily_schedule"]
            for verb in ("start", "stop")
        ]
    dev = _serve(serve, checkout, env, log)
    try:
        _wait_for_location(url, dev, log)
        # No warning of ours: DAGSTER_HOME is not exported beside the Compose dagster.yaml, and
        # `dg dev` is not superseded (`dagster dev` is, Dagster says so itself).
        output = log.read_text()
        assert "Found a dagster instance configuration" not in output
        assert "SupersessionWarning" not in output or shell == "activated: dagster dev"
        started = _run(schedule[0], checkout, env)
        assert started.returncode == 0, started.stderr[-3000:]
        state = _graphql(url, _SCHEDULE)["scheduleOrError"]["scheduleState"]
        assert state["status"] == "RUNNING"
    finally:
        _run(schedule[1], checkout, env)
        stop_process_group(dev)


def test_from_another_folder_wind_etl_finds_the_checkouts_stack(checkout, tmp_path):
    """Case 3: not the default ports: the checkout's `.env` (WIND_STACK_ROOT stands for the
    checkout the package runs from)."""
    target = read_env_file(checkout / ".env")["WIND_TARGET_DB_URL"]
    done = _run(
        [str(BIN / "wind-etl"), "2024-01-07"], tmp_path, _shell_env(WIND_STACK_ROOT=str(checkout))
    )
    assert done.returncode == 0, done.stderr
    port = target.split("@", 1)[1].split("/", 1)[0]
    assert port in done.stdout and "wrote 1,152 rows" in done.stdout


def test_from_another_folder_without_a_stack_every_command_says_so_in_one_line(tmp_path):
    """Case 3: with no stack to find, `wind-etl` names what to set; `dg` and `dagster` without a
    project say they need one. None guesses a server."""
    nowhere = tmp_path / "no-stack"
    nowhere.mkdir()
    done = _run(
        [str(BIN / "wind-etl"), "2024-01-07"], tmp_path, _shell_env(WIND_STACK_ROOT=str(nowhere))
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("wind-etl: WIND_TARGET_DB_URL and WIND_API_URL not set: ")
    assert f"`make up` in {nowhere}" in line
    # Outside any project (the suite's temp folder is inside the checkout, where `dg` would
    # find the checkout's pyproject.toml).
    with tempfile.TemporaryDirectory() as elsewhere:
        done = _run(
            [str(BIN / "dg"), "launch", "--assets", "wind_10min_aggregates"],
            Path(elsewhere),
            _shell_env(),
        )
    assert done.returncode != 0
    assert "must be run inside a Dagster project directory" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_dg_check_defs_passes_at_the_repo_root(tmp_path):
    """`dg check defs`, Dagster's own validation of the code location, in `make test`."""
    env = _shell_env(DAGSTER_HOME=str(tmp_path))
    done = _run([str(BIN / "dg"), "check", "defs"], REPO_ROOT, env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr
    listed = _run([str(BIN / "dg"), "list", "defs", "--json"], REPO_ROOT, env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert '"wind_10min_aggregates"' in listed.stdout and "wind_etl_daily_schedule" in listed.stdout
