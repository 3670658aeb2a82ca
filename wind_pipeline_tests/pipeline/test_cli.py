"""`wind-etl DATE`: the stand-alone script, run as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wind_pipeline_tests.support.faultkit import subprocess_env
from wind_pipeline_tests.support.helpers import scalar, table_snapshot

WIND_ETL = str(Path(sys.executable).parent / "wind-etl")


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = subprocess_env(env or {})
    return subprocess.run(
        [WIND_ETL, *args], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(api_url: str, target_url: str) -> dict[str, str]:
    return {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}


def test_writes_the_day_and_says_what_it_wrote(env, target_url, tmp_path):
    result = run_cli("2024-01-05", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "2024-01-05" in result.stdout and "1,152 rows" in result.stdout and "1,440" in result.stdout
    )
    assert scalar(target_url, "SELECT count(*) FROM data") == 1152
    before = table_snapshot(target_url)
    assert run_cli("2024-01-05", env=env, cwd=tmp_path).returncode == 0
    assert table_snapshot(target_url) == before


def test_settings_come_from_dotenv_in_the_working_directory(api_url, target_url, tmp_path):
    (tmp_path / ".env").write_text(f"WIND_API_URL={api_url}\nWIND_TARGET_DB_URL={target_url}\n")
    result = run_cli("2024-01-06", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert scalar(target_url, "SELECT count(*) FROM data") == 1152


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["2024-13-05"], "invalid date '2024-13-05'"),
        (["05/01/2024"], "invalid date"),
        (["2024-1-5"], "invalid date"),
        (["2023-12-31"], "outside the partitions"),
        (["2999-01-01"], "outside the partitions"),
        (["2024-01-11"], "2024-01-01 .. 2024-01-10, the design card's ten days (fixed mode;"),
        (["2024-01-05", "extra"], "unrecognized arguments"),
        ([], "required: date"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(env, target_url, tmp_path, args, fragment):
    result = run_cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert scalar(target_url, "SELECT count(*) FROM data") == 0


def test_bad_setting_names_the_variable(tmp_path):
    result = run_cli("2024-01-05", env={"WIND_TARGET_DB_URL": "mysql://x@y/z"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "WIND_TARGET_DB_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_empty_day_and_unreachable_api_fail_with_one_line(env, target_url, tmp_path):
    # Live mode: 2024-02-01 is a partition (in fixed mode it is refused, below).
    result = run_cli("2024-02-01", env={**env, "WIND_LIVE": "true"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "no source data for 2024-02-01" in result.stderr
    assert "2024-01-01T00:00Z to 2024-01-10T23:59Z" in result.stderr

    down = {**env, "WIND_API_URL": "http://127.0.0.1:9"}
    result = run_cli("2024-01-05", env=down, cwd=tmp_path)
    assert result.returncode == 1
    assert "unavailable after 4 attempts" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert scalar(target_url, "SELECT count(*) FROM data") == 0


def test_target_down_fails_with_one_line_without_password(api_url, tmp_path):
    env = {
        "WIND_API_URL": api_url,
        "WIND_TARGET_DB_URL": "postgresql+psycopg2://writer:s3cret@127.0.0.1:9/wind_target",
    }
    result = run_cli("2024-01-05", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Target database" in result.stderr and "s3cret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
