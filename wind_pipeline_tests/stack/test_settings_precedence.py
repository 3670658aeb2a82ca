"""The same environment reaches the same databases through every entry point: a setting
exported in the shell wins over the `.env` the local stack writes, in Dagster's CLI (which loads
`.env` over the environment) as in `wind-etl`; without the export, `.env` is used by both."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from wind_pipeline.target_models import create_target_schema
from wind_pipeline_tests.support.faultkit import WIND_ETL, dagster_materialize, subprocess_env
from wind_pipeline_tests.support.helpers import scalar
from wind_stack.env_file import write_env_file

DAY = "2024-01-05"
ENTRY_POINTS = {
    "dagster-cli": dagster_materialize(DAY),
    "wind-etl": [WIND_ETL, DAY],
}


def _target(new_database: Callable[[str], str]) -> str:
    url = new_database("precedence")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    create_target_schema(engine)
    engine.dispose()
    return url


def _rows(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM data"))


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_an_exported_target_wins_over_dotenv(entry_point, new_database, api_url, tmp_path):
    in_dotenv, exported = _target(new_database), _target(new_database)
    folder = tmp_path / "checkout"
    folder.mkdir()
    write_env_file(folder / ".env", {"WIND_TARGET_DB_URL": in_dotenv, "WIND_API_URL": api_url})
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = subprocess_env({"DAGSTER_HOME": str(home)})

    exported_env = {**env, "WIND_TARGET_DB_URL": exported}
    result = subprocess.run(
        ENTRY_POINTS[entry_point], cwd=folder, env=exported_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (_rows(exported), _rows(in_dotenv)) == (1152, 0)

    # Nothing exported: the `.env` the stack wrote is used.
    result = subprocess.run(
        ENTRY_POINTS[entry_point], cwd=folder, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _rows(in_dotenv) == 1152
