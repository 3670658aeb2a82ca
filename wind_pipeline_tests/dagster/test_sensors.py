"""The late-data sensor against the real API and real PostgreSQL: it requests exactly the days
whose Source rows were added or changed since they were aggregated, and days that became
complete, once per change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from api_service.models import source_table
from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.resources import ConektorClient
from wind_pipeline.sensors import wind_late_data_sensor
from wind_pipeline.source_data import generate_turbine_data, seed_source
from wind_pipeline_tests.support.helpers import etl_resources, execute

FULL = generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), 4)
LATE_GAP = (FULL["timestamp"] >= "2024-01-03T10:00Z") & (FULL["timestamp"] < "2024-01-03T10:10Z")
NOT_YET = FULL["timestamp"] >= "2024-01-04T12:00Z"


def insert_rows(url: str, frame: pd.DataFrame) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.insert(source_table), frame.to_dict("records"))
    engine.dispose()


class Tick:
    """Evaluates the sensor the way the daemon does: with the previous tick's cursor."""

    def __init__(self, api: str, instance: dg.DagsterInstance):
        self.api, self.instance, self.cursor = api, instance, None

    def __call__(self) -> dg.SensorResult:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"conektor": ConektorClient(base_url=self.api, backoff_seconds=0.05)},
        ) as context:
            result = wind_late_data_sensor(context)
        self.cursor = result.cursor
        return result


def requested(result: dg.SensorResult) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests or [])


@pytest.fixture
def late_source(new_database: Callable[[str], str], start_api) -> tuple[str, str]:
    """2024-01-01..02 complete, 01-03 missing 10:00-10:09, 01-04 only until noon."""
    url = new_database("late_source")
    engine = sa.create_engine(url)
    seed_source(engine, FULL[~LATE_GAP & ~NOT_YET])
    engine.dispose()
    return url, start_api(url).url


def test_sensor_requests_new_complete_days_then_exactly_the_days_that_changed(
    late_source, target_url
):
    source_url, api = late_source

    def materialize(day: str) -> None:
        result = dg.materialize(
            [wind_10min_aggregates],
            instance=instance,
            partition_key=day,
            resources=etl_resources(api, target_url),
        )
        assert result.success

    with dg.instance_for_test() as instance:
        tick = Tick(api, instance)

        # Nothing aggregated yet: the complete days are requested, the partial ones are not.
        first = tick()
        assert requested(first) == ["2024-01-01", "2024-01-02"]
        assert all(r.tags["wind_pipeline/trigger"] == "late_data" for r in first.run_requests)
        # The runs have not happened yet: the next tick does not ask again.
        assert requested(tick()) == []

        for day in ["2024-01-01", "2024-01-02", "2024-01-03"]:  # 01-03 as the schedule would
            materialize(day)
        quiet = tick()
        assert requested(quiet) == []
        assert "up to date" in quiet.skip_reason.skip_message

        # Late data: the gap of 01-03 arrives, a row of 01-02 is corrected, 01-04 completes.
        insert_rows(source_url, FULL[LATE_GAP | NOT_YET])
        assert (
            execute(
                source_url,
                "UPDATE data SET wind_speed = wind_speed + 1 WHERE timestamp = '2024-01-02T08:00Z'",
            )
            == 1
        )
        late = tick()
        assert requested(late) == ["2024-01-02", "2024-01-03", "2024-01-04"]
        assert requested(tick()) == [], "once per change, even before the runs happen"

        for request in late.run_requests:
            materialize(request.partition_key)
        assert requested(tick()) == []

        # A row deleted from an aggregated day is a change too.
        execute(source_url, "DELETE FROM data WHERE timestamp = '2024-01-01T23:59Z'")
        assert requested(tick()) == ["2024-01-01"]


def test_sensor_skips_an_empty_source(new_database, start_api):
    url = new_database("empty_source")
    engine = sa.create_engine(url)
    seed_source(engine, FULL.iloc[0:0])
    engine.dispose()
    with dg.instance_for_test() as instance:
        result = Tick(start_api(url).url, instance)()
    assert requested(result) == []
    assert result.skip_reason.skip_message == "the Source holds no data"
