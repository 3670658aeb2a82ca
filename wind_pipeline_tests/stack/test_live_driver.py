"""`make live` without its foreground `dagster dev`, on a scratch stack: `wind-stack up --live`
then the driver (wind_stack/live.py). Yesterday is materialized, the Source is current to the
minute, every command agrees on the mode through `.env`, and `make run`'s path says it holds
the design card's ten days."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import pytest

from wind_pipeline_tests.support.helpers import scalar
from wind_stack.env_file import read_env_file
from wind_stack.stack import LocalStack

BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("live_stack")
    home = root / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    env.update(WIND_STACK_ROOT=str(root), DAGSTER_HOME=str(home))
    yield root, env
    _run([str(BIN / "wind-stack"), "down"], env, root)


def test_make_live_materializes_yesterday_and_keeps_the_source_current(live_stack):
    root, env = live_stack
    up = _run([str(BIN / "wind-stack"), "up", "--live"], env, root)
    assert up.returncode == 0, up.stderr
    assert read_env_file(root / ".env")["WIND_LIVE"] == "true"

    driver = _run([sys.executable, "-m", "wind_stack.live"], env, root)
    assert driver.returncode == 0, driver.stdout + driver.stderr
    assert "source_live_schedule" in driver.stdout and "http://127.0.0.1:3000" in driver.stdout
    settings = read_env_file(root / ".env")
    today = datetime.now(UTC).date()
    yesterday = datetime.combine(today - timedelta(days=1), time(), UTC)
    target_rows = scalar(
        settings["WIND_TARGET_DB_URL"],
        "SELECT count(*) FROM data WHERE timestamp >= :d AND timestamp < :d + interval '1 day'",
        d=yesterday,
    )
    assert target_rows == 1152
    newest = scalar(settings["WIND_SOURCE_DB_URL"], "SELECT max(timestamp) FROM data")
    assert datetime.now(UTC) - newest < timedelta(minutes=2)
    design = "SELECT count(*) FROM data WHERE timestamp < '2024-01-11Z'"
    assert scalar(settings["WIND_SOURCE_DB_URL"], design) == 14_400
    assert scalar(settings["WIND_TARGET_DB_URL"], design) == 11_520

    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        done = instance.get_materialized_partitions(dg.AssetKey("wind_10min_aggregates"))
        assert yesterday.date().isoformat() in done and "2024-01-05" in done
        assert instance.get_latest_materialization_event(dg.AssetKey("source_live_readings"))
    finally:
        instance.dispose()


def test_a_plain_up_switches_back_to_fixed_mode_and_clean_forgets_it(tmp_path):
    stack = LocalStack(tmp_path / ".stack", tmp_path / ".env", tmp_path / "home")
    stack.live = True
    stack.write_env_file()
    assert read_env_file(stack.env_file)["WIND_LIVE"] == "true"
    stack.live = False
    stack.write_env_file()
    assert read_env_file(stack.env_file)["WIND_LIVE"] == "false"
    assert "WIND_LIVE=${WIND_LIVE:-false}" in stack.env_file.read_text()
    stack.forget_env_file()
    assert not stack.env_file.exists()


def test_the_driver_refuses_an_exported_false_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    for value, message in [("false", "exported as false"), ("maybe", "WIND_LIVE: expected")]:
        result = _run(
            [sys.executable, "-m", "wind_stack.live"], {**env, "WIND_LIVE": value}, tmp_path
        )
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and message in result.stderr
