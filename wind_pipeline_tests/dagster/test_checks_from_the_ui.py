"""The aggregates' checks run on their own the ways the Dagster UI offers: *Execute all* on the
Checks tab launches them with no partition, so they judge every day the Target holds; the same
selection with a partition range judges those days. Launched through GraphQL exactly as the UI
does, each a real run in its own process from the real code location, with Dagster's storage,
the Source and the Target in real PostgreSQL and the real API.
"""

from __future__ import annotations

import dagster as dg
import pytest

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline_tests.support.faultkit import one_line_failure, range_tags
from wind_pipeline_tests.support.helpers import etl_resources, execute, table_snapshot
from wind_pipeline_tests.support.ui_launch import UiSession, ui_workspace

CHECKS = {"complete", "consistent", "matches_source", "source_coverage"}
DAYS = ["2024-01-03", "2024-01-04", "2024-01-07"]
EVALUATION = dg.DagsterEventType.ASSET_CHECK_EVALUATION
MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION
TAMPER = (
    "UPDATE data SET value = 99 WHERE timestamp = '2024-01-04T12:00Z' "
    "AND signal_id = (SELECT id FROM signal WHERE name = 'wind_speed_min')"
)


@pytest.fixture
def ui(api_url, source_url, target_url, new_database, clean_env, tmp_path):
    for name, url in [
        ("WIND_API_URL", api_url),
        ("WIND_SOURCE_DB_URL", source_url),
        ("WIND_TARGET_DB_URL", target_url),
    ]:
        clean_env.setenv(name, url)
    with ui_workspace(new_database("dagster"), tmp_path) as session:
        yield session


def verdicts(ui: UiSession, run_id: str) -> dict[tuple[str, str], bool]:
    """(check, partition) -> passed, for every evaluation of the run (each exactly once)."""
    found = [e.event_specific_data for e in ui.events(run_id) if e.event_type == EVALUATION]
    by_key = {(e.check_name, e.partition): e.passed for e in found}
    assert len(by_key) == len(found), "one verdict per check and day"
    return by_key


def partition_statuses(ui: UiSession) -> dict[str, list[tuple[str, str, str]]]:
    """What each check's *Partitions* tab shows: (first day, last day, status) ranges."""
    checks = ui.asset_checks()["assetChecksOrError"]["checks"]
    return {
        c["name"]: [
            (r["startKey"], r["endKey"], r["status"]) for r in c["partitionStatuses"]["ranges"]
        ]
        for c in checks
    }


def test_execute_all_judges_every_day_the_target_holds(ui, api_url, target_url):
    checks = ui.asset_checks()["assetChecksOrError"]["checks"]
    assert {c["name"] for c in checks} == CHECKS
    assert {c["canExecuteIndividually"] for c in checks} == {"CAN_EXECUTE"}
    # Partitioned checks: why the UI disables a single check's *Execute* button.
    assert all(c["partitionDefinition"] for c in checks)

    # Nothing aggregated yet: the run fails with one line saying so.
    run = ui.execute_all_checks()
    assert run.status == dg.DagsterRunStatus.FAILURE
    line = one_line_failure(ui.events(run.run_id))
    assert line.startswith("nothing to check: the Target database postgresql+psycopg2://")
    assert line.endswith(
        "holds no aggregated day of wind_10min_aggregates; materialize a partition first"
    )

    # Three days aggregated (a range, then one day), then one value tampered with by hand.
    for tags in (range_tags(*DAYS[:2]), {"dagster/partition": DAYS[2]}):
        resources = etl_resources(api_url, target_url)
        assert dg.materialize(
            [wind_10min_aggregates], instance=ui.instance, tags=tags, resources=resources
        ).success
    # Materializing ran the checks too: each check's Partitions tab shows the days it judged.
    assert partition_statuses(ui)["matches_source"] == [
        ("2024-01-03", "2024-01-04", "SUCCEEDED"),
        ("2024-01-07", "2024-01-07", "SUCCEEDED"),
    ]
    execute(target_url, TAMPER)
    tampered = table_snapshot(target_url)

    run = ui.execute_all_checks()
    assert run.tags.get("dagster/from_ui") == "true"
    assert not {"dagster/partition", "dagster/asset_partition_range_start"} & set(run.tags)
    assert run.status == dg.DagsterRunStatus.FAILURE, "blocking checks failed with ERROR"
    assert (
        "No partition given: checking the 3 day(s) the Target holds: "
        "2024-01-03..2024-01-04, 2024-01-07"
    ) in ui.messages(run.run_id)
    found = verdicts(ui, run.run_id)
    assert set(found) == {(name, day) for name in CHECKS for day in DAYS}
    assert {key for key, passed in found.items() if not passed} == {
        ("consistent", "2024-01-04"),
        ("matches_source", "2024-01-04"),
    }
    assert not [e for e in ui.events(run.run_id) if e.event_type == MATERIALIZATION]
    assert table_snapshot(target_url) == tampered, "checks write nothing"

    # Each check's Partitions tab shows each day's verdict.
    statuses = partition_statuses(ui)
    assert statuses["consistent"] == [
        ("2024-01-03", "2024-01-03", "SUCCEEDED"),
        ("2024-01-04", "2024-01-04", "FAILED"),
        ("2024-01-07", "2024-01-07", "SUCCEEDED"),
    ]
    assert statuses["complete"] == [
        ("2024-01-03", "2024-01-04", "SUCCEEDED"),
        ("2024-01-07", "2024-01-07", "SUCCEEDED"),
    ]

    # The same selection for a range of partitions judges exactly those days.
    run = ui.execute_all_checks(tags=range_tags(*DAYS[:2]))
    assert run.tags["dagster/asset_partition_range_start"] == DAYS[0]
    found = verdicts(ui, run.run_id)
    assert set(found) == {(name, day) for name in CHECKS for day in DAYS[:2]}
    assert not found[("consistent", "2024-01-04")] and found[("consistent", "2024-01-03")]


def test_materializing_with_no_partition_fails_in_one_line(api_url, target_url):
    result = dg.materialize(
        [wind_10min_aggregates],
        resources=etl_resources(api_url, target_url),
        raise_on_error=False,
    )
    assert not result.success
    assert one_line_failure(result.all_events) == (
        "wind_10min_aggregates is partitioned by UTC day: materialize a partition or a range "
        "of partitions (only its checks may run without one)"
    )
    assert table_snapshot(target_url) == []
