"""The code location loads; the schedule asks for the day that just ended."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from wind_pipeline.definitions import defs
from wind_pipeline.partitions import daily_partitions


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert keys == {"source_seed", "target_schema", "wind_10min_aggregates"}
    assert {job.name for job in repo.get_all_jobs()} >= {"wind_etl_job", "bootstrap_job"}
    assert defs.resolve_schedule_def("wind_etl_daily_schedule").job_name == "wind_etl_job"
    for asset_key in keys:
        spec = repo.asset_graph.get(dg.AssetKey(asset_key))
        assert spec.description, f"{asset_key} needs a description"


def test_schedule_tick_requests_the_previous_day():
    schedule = defs.resolve_schedule_def("wind_etl_daily_schedule")
    assert schedule.cron_schedule == "30 0 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 1, 6, 0, 30, tzinfo=UTC)
    ) as context:
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2024-01-05"]


def test_partitions_are_utc_days_from_the_seeded_period():
    keys = daily_partitions.get_partition_keys(current_time=datetime(2024, 1, 11, 0, 5, tzinfo=UTC))
    assert keys[0] == "2024-01-01" and keys[-1] == "2024-01-10" and len(keys) == 10
    window = daily_partitions.time_window_for_partition_key("2024-01-05")
    assert window.start.isoformat() == "2024-01-05T00:00:00+00:00"
    assert window.end.isoformat() == "2024-01-06T00:00:00+00:00"


def test_importing_the_code_location_connects_to_nothing(monkeypatch):
    import subprocess
    import sys

    # Unreachable URLs: loading the definitions must still succeed.
    env = {
        "WIND_SOURCE_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/none",
        "WIND_TARGET_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/none",
        "WIND_API_URL": "http://127.0.0.1:1",
        "PATH": "/usr/bin:/bin",
    }
    code = "from wind_pipeline.definitions import defs; import dagster as dg; dg.Definitions.validate_loadable(defs)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
