"""`wind_10min_aggregates` end to end: the real API, the real Target, via Dagster."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline_tests.support.faultkit import range_tags
from wind_pipeline_tests.support.helpers import etl_resources, scalar, table_snapshot
from wind_pipeline_tests.support.sources import api_over_a_source_ending_early


def materialize(api_url: str, target_url: str, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [wind_10min_aggregates],
        resources=etl_resources(api_url, target_url),
        raise_on_error=False,
        **kwargs,
    )


def test_one_partition_writes_1152_rows_and_rerun_is_identical(api_url, target_url):
    result = materialize(api_url, target_url, partition_key="2024-01-05")
    assert result.success
    assert scalar(target_url, "SELECT count(*) FROM data") == 1152
    assert (
        scalar(
            target_url,
            "SELECT count(*) FROM data WHERE timestamp >= '2024-01-05Z' AND timestamp < '2024-01-06Z'",
        )
        == 1152
    )
    per_signal = scalar(
        target_url,
        "SELECT array_agg(DISTINCT n) FROM (SELECT count(*) n FROM data GROUP BY signal_id) s",
    )
    assert per_signal == [144]
    assert scalar(target_url, "SELECT count(*) FROM data WHERE value = 'NaN'") == 0

    (mat,) = result.asset_materializations_for_node("wind_10min_aggregates")
    assert mat.partition == "2024-01-05"
    assert mat.metadata["rows_written"].value == 1152
    assert mat.metadata["source_rows_read"].value == 1440
    assert mat.metadata["window_start"].value == "2024-01-05T00:00:00+00:00"

    before = table_snapshot(target_url)
    assert materialize(api_url, target_url, partition_key="2024-01-05").success
    assert table_snapshot(target_url) == before


def test_rerun_repairs_a_tampered_row_and_leaves_other_days(api_url, target_url):
    assert materialize(api_url, target_url, partition_key="2024-01-04").success
    assert materialize(api_url, target_url, partition_key="2024-01-05").success
    good = table_snapshot(target_url)
    engine = sa.create_engine(target_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data SET value = -1 WHERE timestamp = '2024-01-05T12:00Z'"))
        conn.execute(sa.text("DELETE FROM data WHERE timestamp = '2024-01-05T13:00Z'"))
    engine.dispose()
    assert materialize(api_url, target_url, partition_key="2024-01-05").success
    assert table_snapshot(target_url) == good


def test_single_run_range_writes_each_day_and_records_each_partition(api_url, target_url):
    tags = range_tags("2024-01-02", "2024-01-04")
    result = materialize(api_url, target_url, tags=tags)
    assert result.success
    assert scalar(target_url, "SELECT count(*) FROM data") == 3 * 1152
    partitions = sorted(
        m.partition for m in result.asset_materializations_for_node("wind_10min_aggregates")
    )
    assert partitions == ["2024-01-02", "2024-01-03", "2024-01-04"]
    before = table_snapshot(target_url)
    assert materialize(api_url, target_url, tags=tags).success
    assert table_snapshot(target_url) == before


@pytest.fixture(scope="module")
def short_api(new_database, start_api) -> str:
    return api_over_a_source_ending_early(new_database, start_api)


def test_day_without_source_data_fails_clearly_and_leaves_target_untouched(short_api, target_url):
    assert materialize(short_api, target_url, partition_key="2024-01-05").success
    before = table_snapshot(target_url)

    result = materialize(short_api, target_url, partition_key="2024-01-10")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "no source data for 2024-01-10" in message
    assert "2024-01-01T00:00Z to 2024-01-09T23:59Z" in message
    assert table_snapshot(target_url) == before


def test_range_with_one_empty_day_writes_nothing(short_api, target_url):
    tags = range_tags("2024-01-09", "2024-01-10")
    result = materialize(short_api, target_url, tags=tags)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert (
        "no source data for 2024-01-10" in failure.step_failure_data.user_failure_data.description
    )
    assert scalar(target_url, "SELECT count(*) FROM data") == 0
