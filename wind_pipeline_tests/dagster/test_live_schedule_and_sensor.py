"""Live mode against the real API and real PostgreSQL: the feed fills the last days, today's
00:30 tick of `wind_etl_daily_schedule` runs yesterday's partition and it succeeds, and a late
row in that already-processed day is caught by `wind_late_data_sensor`. No clock is faked.

The aggregates' partitions are fixed when the code location loads, so the schedule and its
run happen in a subprocess that loads it with WIND_LIVE=true (support/live_probe.py), on an
instance this test then reads. The sensor is rebuilt here for live mode
(`build_late_data_sensor(live=True)`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

import dagster as dg
import pytest

from wind_pipeline.resources import ConektorClient
from wind_pipeline.sensors import build_late_data_sensor
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline_tests.support.helpers import REPO_ROOT, execute, scalar, seed
from wind_pipeline_tests.support.postgres import reader_url


@pytest.fixture(scope="module")
def live(new_database, start_api, tmp_path_factory):
    """A Source holding the design card's ten days, its API, a Target, a DAGSTER_HOME, and the
    environment a live code location runs with."""
    from wind_pipeline.db import make_engine
    from wind_pipeline.target_models import create_target_schema

    source = new_database("live_source")
    seed(source, generate_turbine_data())
    target = new_database("live_target")
    engine = make_engine(target)
    create_target_schema(engine)
    engine.dispose()
    home = tmp_path_factory.mktemp("live_dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # SQLite storage here
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    env.update(
        WIND_LIVE="true",
        WIND_SOURCE_DB_URL=source,
        WIND_TARGET_DB_URL=target,
        WIND_API_URL=start_api(reader_url(source)).url,
        DAGSTER_HOME=str(home),
    )
    return env


def probe(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "wind_pipeline_tests.support.live_probe", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_todays_tick_runs_yesterday_then_a_late_row_is_caught(live):
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    fed = probe(live, "feed")
    assert fed["success"] and fed["rows_added"] >= 3 * 1440

    tick = datetime.combine(today, time(0, 30), UTC)
    scheduled = probe(live, "schedule", tick.isoformat())
    assert scheduled["requests"] == 1 and scheduled["partition"] == yesterday.isoformat()
    assert scheduled["default_status"] == "RUNNING", "live mode switches the schedule on"
    with dg.DagsterInstance.from_config(live["DAGSTER_HOME"]) as instance:
        run = instance.get_run_by_id(scheduled["run_id"])
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == yesterday.isoformat()
        assert run.tags["dagster/schedule_name"] == "wind_etl_daily_schedule"
        assert run.tags["wind_pipeline/trigger"] == "schedule"
        rows = scalar(
            live["WIND_TARGET_DB_URL"],
            "SELECT count(*) FROM data WHERE timestamp >= :day AND timestamp < :next",
            day=datetime.combine(yesterday, time(), UTC),
            next=datetime.combine(today, time(), UTC),
        )
        assert rows == 1152

        sensor = build_late_data_sensor(live=True)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        conektor = ConektorClient(base_url=live["WIND_API_URL"], backoff_seconds=0.05)

        def tick_sensor(cursor: str | None) -> dg.SensorResult:
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"conektor": conektor}
            ) as context:
                return sensor(context)

        # First tick: the fed days nobody aggregated yet are requested; yesterday is up to date.
        first = tick_sensor(None)
        first_days = {r.partition_key for r in first.run_requests or []}
        assert yesterday.isoformat() not in first_days
        assert first_days <= {(today - timedelta(days=n)).isoformat() for n in (2, 3)}

        # A late correction, as the Source's owner, in the already-processed day.
        noon = datetime.combine(yesterday, time(12, 0), UTC)
        changed = execute(
            live["WIND_SOURCE_DB_URL"],
            "UPDATE data SET wind_speed = wind_speed + 1 WHERE timestamp = :noon",
            noon=noon,
        )
        assert changed == 1
        late = tick_sensor(first.cursor)
        assert [r.partition_key for r in late.run_requests] == [yesterday.isoformat()]
        assert late.run_requests[0].tags["wind_pipeline/trigger"] == "late_data"
