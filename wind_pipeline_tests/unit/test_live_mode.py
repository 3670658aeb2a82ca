"""The WIND_LIVE switch without a database: the partitions, the schedules' ticks and default
statuses of each mode (built by the functions that take the mode), and that the code location
follows the environment it loads in (in a subprocess, never by changing this one's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from wind_pipeline.definitions import defs
from wind_pipeline.mode import OFF_MESSAGE, parse_live
from wind_pipeline.partitions import FIXED_LAST_DAY, build_daily_partitions
from wind_pipeline.schedules import build_daily_schedule, build_live_feed_schedule, daily_request
from wind_pipeline.settings import ConfigurationError
from wind_stack.converge import day_ranges

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def tick(schedule: dg.ScheduleDefinition, at: datetime) -> dg.ScheduleExecutionData:
    """Evaluate a tick as the daemon does: a partition key is checked against the job's
    partitions, here this process's (fixed mode, WIND_LIVE unset)."""
    with dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=defs.get_repository_def()
    ) as context:
        return schedule.evaluate_tick(context)


@pytest.mark.parametrize(
    ("text", "live"),
    [(None, False), ("", False), ("false", False), ("0", False), ("TRUE", True), ("yes", True)],
)
def test_the_switch_reads_true_or_false(text, live):
    assert parse_live(text) is live


def test_a_bad_switch_names_the_variable():
    with pytest.raises(ConfigurationError, match=r"^invalid configuration: WIND_LIVE: expected"):
        parse_live("maybe")


def test_fixed_partitions_are_the_design_cards_ten_days_whenever_it_is():
    assert FIXED_LAST_DAY == date(2024, 1, 10)
    keys = build_daily_partitions(live=False).get_partition_keys(current_time=NOW)
    assert keys == [f"2024-01-{d:02d}" for d in range(1, 11)]


def test_live_partitions_run_from_the_design_card_to_yesterday():
    keys = build_daily_partitions(live=True).get_partition_keys(current_time=NOW)
    assert keys[0] == "2024-01-01" and keys[-1] == "2026-11-29" and "2024-01-05" in keys


def test_fixed_schedule_runs_the_period_then_skips_with_one_line():
    schedule = build_daily_schedule(live=False)
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 0 * * *", "UTC")
    for at, key in [
        (datetime(2024, 1, 6, 0, 30), "2024-01-05"),
        (datetime(2024, 1, 11, 0, 30), "2024-01-10"),
    ]:
        (request,) = tick(schedule, at.replace(tzinfo=UTC)).run_requests
        assert request.partition_key == key
    for at in (datetime(2024, 1, 12, 0, 30, tzinfo=UTC), NOW.replace(hour=0, minute=30)):
        data = tick(schedule, at)
        assert not data.run_requests
        day = (at - timedelta(days=1)).date()
        assert data.skip_message == (
            f"{day} is not a partition: the Source's data ends 2024-01-10 (fixed mode); "
            "`make live` keeps it current"
        )
    assert (
        "before the first partition"
        in tick(schedule, datetime(2024, 1, 1, 0, 30, tzinfo=UTC)).skip_message
    )


def test_live_schedule_runs_by_default_and_requests_yesterday():
    # Evaluated through the live code location in dagster/test_live_schedule_and_sensor.py;
    # every tick of a year: unit/test_definitions.py.
    assert build_daily_schedule(live=True).default_status == dg.DefaultScheduleStatus.RUNNING
    request = daily_request(NOW.replace(hour=0, minute=30), live=True)
    assert request.partition_key == "2026-11-29"
    assert request.tags == {"wind_pipeline/trigger": "schedule"}


def test_the_feeds_schedule_runs_every_minute_only_in_live_mode():
    fixed, live = build_live_feed_schedule(live=False), build_live_feed_schedule(live=True)
    assert fixed.default_status == dg.DefaultScheduleStatus.STOPPED
    assert live.default_status == dg.DefaultScheduleStatus.RUNNING
    assert live.cron_schedule == "* * * * *"
    assert tick(fixed, NOW).skip_message == OFF_MESSAGE
    (request,) = tick(live, NOW).run_requests
    assert request.tags["wind_pipeline/trigger"] == "live_feed"


def test_days_are_aggregated_in_runs_of_consecutive_days():
    days = [date(2024, 1, d) for d in (3, 1, 2, 10)] + [date(2026, 11, 29)]
    assert day_ranges(days) == [
        (date(2024, 1, 1), date(2024, 1, 3)),
        (date(2024, 1, 10), date(2024, 1, 10)),
        (date(2026, 11, 29), date(2026, 11, 29)),
    ]
    assert day_ranges([]) == []


_REPORT = """
import json
from wind_pipeline.definitions import defs
from wind_pipeline.partitions import daily_partitions
print(json.dumps({
    "last": daily_partitions.get_last_partition_key(),
    "schedules": {s.name: s.default_status.value for s in defs.schedules},
    "sensors": {s.name: s.default_status.value for s in defs.sensors},
}))
"""


@pytest.mark.parametrize("value", [None, "true"])
def test_the_code_location_follows_wind_live_when_it_loads(value):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    if value is not None:
        env["WIND_LIVE"] = value
    result = subprocess.run(
        [sys.executable, "-c", _REPORT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    status = "RUNNING" if value else "STOPPED"
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert report["last"] == (yesterday if value else "2024-01-10")
    assert report["schedules"] == {
        "wind_etl_daily_schedule": status,
        "source_live_schedule": status,
    }
    assert report["sensors"] == {"wind_late_data_sensor": status}
