"""Bad command lines: `wind-etl` and the design card's `dagster asset materialize`.

`test_cli.py` covers the basic `wind-etl` cases; these add the ones a tired user types, and
partition keys outside the range given to Dagster's own CLI. Nothing may be written.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wind_pipeline_tests.support.faultkit import WIND_ETL, subprocess_env
from wind_pipeline_tests.support.helpers import scalar

DAGSTER = str(Path(sys.executable).parent / "dagster")


def days_from_today(text: str) -> str:
    """`{today+N}` as a date computed when the test runs (never at import, which raced midnight
    UTC in a long session). Only future days are used: a command started a moment before
    midnight still sees them as outside the partitions. The exact "today is excluded" rule is
    pinned on a fixed reference day in unit/test_cli_args.py."""
    if not text.startswith("{today+"):
        return text
    offset = int(text.removeprefix("{today+").removesuffix("}"))
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


@pytest.fixture
def env(api_url: str, target_url: str) -> dict[str, str]:
    return {"WIND_API_URL": api_url, "WIND_TARGET_DB_URL": target_url}


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, env=subprocess_env(env), cwd=cwd, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([" 2024-01-05"], "invalid date"),
        (["2024-01-05T00:00"], "invalid date"),
        (["20240105"], "invalid date"),
        (["2024-W01-5"], "invalid date"),  # an ISO week date is not YYYY-MM-DD
        (["2024-02-30"], "invalid date"),
        ([""], "invalid date"),
        (["2024-01-05;DROP TABLE data"], "invalid date"),
        (["{today+1}"], "outside the partitions"),
        (["{today+2}"], "outside the partitions"),
        (["9999-12-31"], "outside the partitions"),
        (["2024-01-05", "2024-01-06"], "unrecognized arguments"),
        (["--date", "2024-01-05"], "unrecognized arguments"),
        (["-x", "2024-01-05"], "unrecognized arguments"),
    ],
)
def test_wind_etl_bad_arguments_exit_2_with_one_line(env, target_url, tmp_path, args, fragment):
    result = _run([WIND_ETL, *map(days_from_today, args)], env, tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert scalar(target_url, "SELECT count(*) FROM data") == 0


def test_wind_etl_help_exits_0(tmp_path):
    result = _run([WIND_ETL, "--help"], {}, tmp_path)
    assert result.returncode == 0 and "YYYY-MM-DD" in result.stdout


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--partition", "2023-12-31", "2023-12-31"),
        ("--partition", "{today+1}", "{today+1}"),
        ("--partition", "2024-13-01", "2024-13-01"),
        ("--partition-range", "2023-12-30...2024-01-02", "2023-12-30"),
        ("--partition-range", "2024-01-05...2024-01-03", "reversed"),
    ],
)
def test_dagster_cli_partition_outside_the_range_fails_and_writes_nothing(
    env, target_url, tmp_path, option, value, named
):
    """Dagster's own CLI refuses the key (its message ends a Dagster traceback: not ours)."""
    value, named = days_from_today(value), days_from_today(named)
    home = tmp_path / "dagster_home"
    home.mkdir()
    command = [
        DAGSTER, "asset", "materialize", "-m", "wind_pipeline.definitions",
        "--select", "wind_10min_aggregates", option, value,
    ]  # fmt: skip
    result = _run(command, {**env, "DAGSTER_HOME": str(home)}, tmp_path)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    if named == "reversed":  # Dagster starts the run; the asset fails it at once
        assert "holds no day (a reversed --partition-range?)" in result.stderr
    else:
        assert f"partition key `{named}`" in result.stderr.strip().splitlines()[-1]
    assert scalar(target_url, "SELECT count(*) FROM data") == 0
