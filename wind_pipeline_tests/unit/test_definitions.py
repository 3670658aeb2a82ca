"""The code location loads; the schedule asks for the day that just ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from wind_pipeline.definitions import defs
from wind_pipeline.partitions import build_daily_partitions, daily_partitions
from wind_pipeline.schedules import daily_request


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert keys == {"source_seed", "source_live_readings", "target_schema", "wind_10min_aggregates"}
    assert {job.name for job in repo.get_all_jobs()} >= {
        "wind_etl_job",
        "bootstrap_job",
        "source_live_job",
    }
    assert defs.resolve_schedule_def("wind_etl_daily_schedule").job_name == "wind_etl_job"
    for asset_key in keys:
        spec = repo.asset_graph.get(dg.AssetKey(asset_key))
        assert spec.description, f"{asset_key} needs a description"


def test_schedule_tick_requests_the_previous_day():
    schedule = defs.resolve_schedule_def("wind_etl_daily_schedule")
    assert schedule.cron_schedule == "30 0 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 1, 6, 0, 30, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
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


# -- checks, descriptions, the sensor, retries, the schedule's partitions ------------------
def test_every_asset_has_checks_that_run_with_its_jobs():
    repo = defs.get_repository_def()
    checks = {
        (key.asset_key.to_user_string(), key.name): repo.asset_graph.get(key)
        for key in repo.asset_graph.asset_check_keys
    }
    blocking = {name: node.blocking for name, node in checks.items()}
    assert blocking == {
        ("wind_10min_aggregates", "complete"): True,
        ("wind_10min_aggregates", "consistent"): True,
        ("wind_10min_aggregates", "matches_source"): True,
        ("wind_10min_aggregates", "source_coverage"): False,
        ("source_seed", "matches_config"): True,
        ("source_seed", "one_row_a_minute"): True,
        ("source_seed", "values_usable"): False,
        ("target_schema", "eight_signals"): True,
        ("target_schema", "tables_match_models"): True,
    }
    for name, node in checks.items():
        assert node.description, f"{name} needs a description"
    # A job that selects an asset runs its checks too.
    for job_name, asset in [
        ("wind_etl_job", "wind_10min_aggregates"),
        ("bootstrap_job", "source_seed"),
    ]:
        job_checks = defs.resolve_job_def(job_name).asset_layer.asset_graph.asset_check_keys
        assert {k.name for k in job_checks if k.asset_key.to_user_string() == asset} == {
            name for (a, name) in checks if a == asset
        }


def test_every_definition_is_described_grouped_and_owned():
    repo = defs.get_repository_def()
    for key in repo.asset_graph.get_all_asset_keys():
        node = repo.asset_graph.get(key)
        assert node.group_name in {"source", "target", "aggregates"}, key
        assert node.owners == ["team:data-engineering"], key
        assert node.kinds, key
    for name, resource in repo.get_top_level_resources().items():
        assert resource.description, f"resource {name} needs a description"
    for job in ("wind_etl_job", "bootstrap_job", "source_live_job"):
        assert defs.resolve_job_def(job).description, job
    for schedule in ("wind_etl_daily_schedule", "source_live_schedule"):
        assert defs.resolve_schedule_def(schedule).description, schedule
    sensor = defs.resolve_sensor_def("wind_late_data_sensor")
    assert sensor.description and sensor.job_name == "wind_etl_job"
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_the_aggregates_retry_transient_faults_with_exponential_backoff_and_jitter():
    from wind_pipeline.resources import TRANSIENT_FAULT_RETRY_POLICY as policy

    aggregates = repo_asset("wind_10min_aggregates")
    # Retries are requested by the asset for transient faults only: an op-level policy would
    # also retry an interrupted (terminated) step.
    assert aggregates.op.retry_policy is None
    assert (policy.max_retries, policy.backoff, policy.jitter) == (
        3,
        dg.Backoff.EXPONENTIAL,
        dg.Jitter.PLUS_MINUS,
    )
    assert policy.delay >= 1, "long enough for an API or database restart"
    assert aggregates.backfill_policy == dg.BackfillPolicy.single_run()


def repo_asset(name: str) -> dg.AssetsDefinition:
    return defs.get_repository_def().assets_defs_by_key[dg.AssetKey(name)]


def test_live_schedule_requests_an_existing_partition_every_day_of_the_year():
    # Live mode's partitions grow a day a day; fixed mode's stop at 2024-01-10 (unit/test_live_mode.py).
    partitions = build_daily_partitions(live=True)
    tick = datetime(2024, 1, 2, 0, 30, tzinfo=UTC)
    while tick.year == 2024:
        request = daily_request(tick, live=True)
        existing = partitions.get_partition_keys(current_time=tick)
        assert request.partition_key == existing[-1], tick
        assert request.partition_key == (tick.date() - timedelta(days=1)).isoformat()
        tick += timedelta(days=1)


def test_schedule_has_no_partition_set_so_the_daemon_runs_only_the_latest_missed_tick():
    # docs/operations.md documents catch-up after downtime from this property: Dagster's scheduler
    # (dagster/_scheduler/scheduler.py) replays missed ticks only for schedules with a
    # partition set, and a schedule built from an asset job has none, so only the latest
    # missed tick runs. If Dagster changes that, this test tells us to update docs/operations.md.
    from dagster._core.remote_representation.external_data import ScheduleSnap

    schedule = defs.resolve_schedule_def("wind_etl_daily_schedule")
    snap = ScheduleSnap.from_def(schedule, defs.get_repository_def())
    assert snap.partition_set_name is None
