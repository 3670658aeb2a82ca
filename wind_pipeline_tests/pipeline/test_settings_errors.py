"""Missing or malformed WIND_* settings: one clear error naming the variable, no password.

Each bad value is given to the real consumers: `load_settings` (shared by everything),
`wind-etl`, a Dagster run whose resources read the environment, and the API process.
"""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline_tests.support.faultkit import WIND_ETL, failure_text, subprocess_env
from wind_stack.net import free_port

SECRET = "s3cretPW"


def test_wind_etl_with_a_bad_setting_exits_2_in_one_line(tmp_path):
    bad = f"http://u:{SECRET}@127.0.0.1:badport"
    result = subprocess.run(
        [WIND_ETL, "2024-01-05"],
        env=subprocess_env({"WIND_API_URL": bad}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "WIND_API_URL" in result.stderr and SECRET not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_dagster_run_with_a_bad_target_url_fails_naming_the_variable(clean_env, api_url):
    clean_env.setenv("WIND_TARGET_DB_URL", f"mysql://u:{SECRET}@h/d")
    result = dg.materialize(
        [wind_10min_aggregates],
        resources={
            "conektor": ConektorClient(base_url=api_url),
            "target_db": TargetDatabase(url=dg.EnvVar("WIND_TARGET_DB_URL")),
        },
        partition_key="2024-01-05",
        raise_on_error=False,
    )
    assert not result.success
    text = failure_text(result)
    assert "WIND_TARGET_DB_URL: expected a postgresql:// URL" in text and SECRET not in text


def _start_api(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "uvicorn", "api_service.main:app", "--port", str(free_port())],
        env=subprocess_env(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_api_refuses_to_start_on_a_bad_db_url_without_printing_the_password(tmp_path):
    result = _start_api({"WIND_API_DB_URL": f"postgresql://u:{SECRET}@h:notaport/d"}, tmp_path)
    assert result.returncode == 1, result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_the_api_names_a_malformed_db_url_variable_in_one_line(tmp_path):
    result = _start_api({"WIND_API_DB_URL": "not a url"}, tmp_path)
    assert result.returncode == 1, result.stderr
    assert "WIND_API_DB_URL" in result.stderr and "Traceback" not in result.stderr
