"""Asset checks: each passes on a normal day and fails, with the expected severity and message,
on a day with a gap, a day with a NaN, and a tampered Target. Real PostgreSQL, the real API.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema
from wind_pipeline.checks import source_seed_checks, target_schema_checks
from wind_pipeline.resources import SourceDatabase, TargetDatabase
from wind_pipeline.source_data import generate_turbine_data, seed_source
from wind_pipeline_tests.support.helpers import etl_resources, execute

DAY = "2024-01-05"
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def verdicts(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's check evaluations by check name (each test runs one partition)."""
    found = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert len(found) == len(result.get_asset_check_evaluations()), "one verdict per check"
    return found


def assert_passed(found: dict[str, dg.AssetCheckEvaluation], *names: str) -> None:
    for name in names:
        assert found[name].passed, f"{name}: {found[name].description}"


def assert_failed(
    found: dict[str, dg.AssetCheckEvaluation], name: str, severity, *fragments: str
) -> None:
    verdict = found[name]
    assert not verdict.passed, f"{name} should fail"
    assert verdict.severity == severity, f"{name}: {verdict.severity}"
    for fragment in fragments:
        assert fragment in verdict.description, f"{name}: {verdict.description!r}"


# -- wind_10min_aggregates ---------------------------------------------------------------
def aggregate(api_url: str, target_url: str, *, checks_only: bool = False):
    if checks_only:
        # As the UI does when a check is executed on its own: the partition is a run tag
        # (`materialize(partition_key=...)` wants an asset in the selection).
        partition = {"tags": {"dagster/partition": DAY}}
        selection = dg.AssetSelection.checks_for_assets(wind_10min_aggregates)
    else:
        partition, selection = {"partition_key": DAY}, None
    return dg.materialize(
        [wind_10min_aggregates],
        selection=selection,
        **partition,
        resources=etl_resources(api_url, target_url),
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def faulty_sources(new_database: Callable[[str], str], start_api) -> dict[str, tuple[str, str]]:
    """Sources holding 2024-01-05 with a gap, and with a NaN: name -> (db URL, API URL)."""
    made = {}
    day = generate_turbine_data(datetime(2024, 1, 5, tzinfo=UTC), 1)
    for name, fault in {
        "gap": "DELETE FROM data WHERE timestamp >= '2024-01-05T10:00Z' AND timestamp < '2024-01-05T11:00Z'",
        "nan": "UPDATE data SET wind_speed = 'NaN' WHERE timestamp = '2024-01-05T12:00Z'",
        # 15 values the bad-value policy skips: out of range, not NULL/NaN/infinite.
        "implausible": "UPDATE data SET power = 99999 WHERE timestamp >= '2024-01-05T08:00Z' "
        "AND timestamp < '2024-01-05T08:15Z'",
    }.items():
        url = new_database(f"source_{name}")
        engine = sa.create_engine(url)
        seed_source(engine, day)
        engine.dispose()
        assert execute(url, fault) >= 1
        made[name] = (url, start_api(url).url)
    return made


def test_aggregate_checks_pass_on_a_normal_day(api_url, target_url):
    result = aggregate(api_url, target_url)
    assert result.success
    found = verdicts(result)
    assert set(found) == {"complete", "consistent", "matches_source", "source_coverage"}
    assert all(v.partition == DAY for v in found.values())
    assert_passed(found, "complete", "consistent", "matches_source", "source_coverage")
    assert found["complete"].description == f"{DAY}: 144 buckets x 8 signals = 1,152 rows"
    assert found["complete"].metadata["rows"].value == 1152
    assert found["source_coverage"].metadata["minutes_present"].value == 1440
    assert found["matches_source"].metadata["values_compared"].value == 1152


def test_aggregate_checks_on_a_day_with_a_gap(faulty_sources, target_url):
    _, api = faulty_sources["gap"]
    result = aggregate(api, target_url)
    assert result.success, "a partial Source day is aggregated; its checks only warn"
    found = verdicts(result)
    assert_failed(
        found,
        "complete",
        WARN,
        "138 of 144 buckets complete (1,104 of 1,152 rows)",
        "no usable data for bucket(s) 10:00-10:50",
    )
    assert_failed(
        found,
        "source_coverage",
        WARN,
        "1,380 of 1,440 minutes present (95.83%), missing 10:00-10:59",
    )
    assert found["source_coverage"].metadata["minutes_missing"].value == 60
    assert_passed(found, "consistent", "matches_source")

    # The partition's metadata says the same, and its chart shows the hour as a gap.
    (materialization,) = result.asset_materializations_for_node("wind_10min_aggregates")
    metadata = materialization.metadata
    assert metadata["dagster/partition_row_count"].value == 1104
    assert metadata["source_minutes_missing"].value == 60
    assert metadata["source_missing_ranges"].value == "10:00-10:59"
    chart = metadata["chart"].value
    svg = base64.b64decode(chart.split("base64,", 1)[1].rstrip(")")).decode()
    assert svg.count('class="gap"') == 2, "one grey gap per panel"
    assert svg.count("<polyline") == 4, "each mean line is broken at the gap"


def test_aggregate_checks_on_a_day_with_a_nan(faulty_sources, target_url):
    _, api = faulty_sources["nan"]
    result = aggregate(api, target_url)
    assert result.success
    found = verdicts(result)
    assert_failed(
        found,
        "source_coverage",
        WARN,
        "1 wind_speed value(s) skipped (NULL, NaN, infinite or out of range)",
    )
    assert "1,440 of 1,440" not in found["source_coverage"].description
    # The aggregation skips the NaN: the bucket still has nine samples, so the day is whole.
    assert_passed(found, "complete", "consistent", "matches_source")


def test_source_coverage_counts_what_the_materialization_counts(faulty_sources, target_url):
    """Out-of-range values are skipped by the ETL: the check must not call them usable."""
    _, api = faulty_sources["implausible"]
    result = aggregate(api, target_url)
    assert result.success
    found = verdicts(result)
    assert_failed(found, "source_coverage", WARN, "15 power value(s) skipped")
    (materialization,) = result.asset_materializations_for_node("wind_10min_aggregates")
    values = materialization.metadata
    assert values["values/values_invalid"].value == 15
    assert values["values/power_above_range"].value == 15
    assert found["source_coverage"].metadata["unusable_values"].value == {
        "wind_speed": 0,
        "power": 15,
    }
    assert values["source_unusable_values"].value == {"wind_speed": 0, "power": 15}


def test_aggregate_checks_catch_a_tampered_target(api_url, target_url):
    assert aggregate(api_url, target_url).success
    execute(
        target_url,
        "UPDATE data SET value = 99 WHERE timestamp = '2024-01-05T12:00Z' "
        "AND signal_id = (SELECT id FROM signal WHERE name = 'wind_speed_min')",
    )
    execute(
        target_url,
        "UPDATE data SET value = 'NaN' WHERE timestamp = '2024-01-05T14:00Z' "
        "AND signal_id = (SELECT id FROM signal WHERE name = 'power_mean')",
    )
    execute(
        target_url,
        "DELETE FROM data WHERE timestamp = '2024-01-05T13:00Z' "
        "AND signal_id = (SELECT id FROM signal WHERE name = 'power_std')",
    )

    result = aggregate(api_url, target_url, checks_only=True)
    assert not result.success, "blocking checks failing with ERROR fail the run"
    assert not result.get_asset_materialization_events(), "a check-only run writes nothing"
    found = verdicts(result)
    assert_failed(
        found, "complete", ERROR, "the Target misses 1 row(s) the Source has (power_std 13:00)"
    )
    assert_failed(
        found,
        "consistent",
        ERROR,
        "2 inconsistent value(s)",
        "power_mean 14:00 is NaN",
        "wind_speed 12:00: min 99, mean",
    )
    assert_failed(
        found,
        "matches_source",
        ERROR,
        "2 value(s) differ from the Source's current rows",
        "wind_speed_min 12:00: Target 99, Source",
        "power_mean 14:00: Target NaN",
    )
    assert_passed(found, "source_coverage")

    # Re-materializing the day repairs it, and the checks say so.
    repaired = aggregate(api_url, target_url)
    assert repaired.success
    assert_passed(verdicts(repaired), "complete", "consistent", "matches_source", "source_coverage")


def test_consistent_catches_a_duplicate_row_once_the_key_is_gone(api_url, target_url):
    assert aggregate(api_url, target_url).success
    execute(target_url, "ALTER TABLE data DROP CONSTRAINT data_pkey")
    execute(
        target_url,
        "INSERT INTO data (signal_id, timestamp, value) SELECT signal_id, timestamp, value "
        "FROM data WHERE timestamp = '2024-01-05T06:00Z' "
        "AND signal_id = (SELECT id FROM signal WHERE name = 'power_max')",
    )
    found = verdicts(aggregate(api_url, target_url, checks_only=True))
    assert_failed(
        found, "consistent", ERROR, "1 inconsistent value(s): power_max 06:00 is stored twice"
    )
    assert_failed(found, "complete", ERROR, "holds 1 row(s) the Source does not support")


# -- source_seed ---------------------------------------------------------------------------
def seed(url: str, instance: dg.DagsterInstance, *, checks_only: bool = False):
    return dg.materialize(
        [source_seed, source_seed_checks],
        selection=dg.AssetSelection.checks_for_assets(source_seed) if checks_only else None,
        instance=instance,
        resources={"source_db": SourceDatabase(url=url)},
        run_config=(
            None
            if checks_only
            else dg.RunConfig({"source_seed": {"config": {"start_date": DAY, "days": 1}}})
        ),
        raise_on_error=False,
    )


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        (None, {}),
        (
            "DELETE FROM data WHERE timestamp >= '2024-01-05T10:00Z' AND timestamp < '2024-01-05T11:00Z'",
            {
                "matches_config": (
                    ERROR,
                    "the Source holds 1,380 rows from 2024-01-05T00:00Z to 2024-01-05T23:59Z",
                    "the configuration says start_date 2024-01-05, days 1: 1,440 rows",
                ),
                "one_row_a_minute": (
                    ERROR,
                    "after 2024-01-05T09:59Z the next row is 2024-01-05T11:00Z (60 minute(s) missing)",
                ),
            },
        ),
        (
            "UPDATE data SET wind_speed = 'NaN' WHERE timestamp = '2024-01-05T12:00Z'",
            {
                "values_usable": (
                    WARN,
                    "wind_speed is NULL, NaN or infinite in 1 row(s) (first at 2024-01-05T12:00Z)",
                )
            },
        ),
        (
            "UPDATE data SET timestamp = '2024-01-05T12:00:30Z' WHERE timestamp = '2024-01-05T12:00Z'",
            {"one_row_a_minute": (ERROR, "1 timestamp(s) not on a whole minute")},
        ),
    ],
    ids=["normal", "gap", "nan", "off-minute"],
)
def test_source_seed_checks(new_database, fault, failing):
    url = new_database("seed_checks")
    with dg.instance_for_test() as instance:
        result = seed(url, instance)
        assert result.success
        assert_passed(verdicts(result), "matches_config", "one_row_a_minute", "values_usable")
        assert "1,440 rows from 2024-01-05T00:00Z to 2024-01-05T23:59Z, as configured" in (
            verdicts(result)["matches_config"].description
        )
        if fault is None:
            return
        assert execute(url, fault) >= 1
        result = seed(url, instance, checks_only=True)
        found = verdicts(result)
        for name, (severity, *fragments) in failing.items():
            assert_failed(found, name, severity, *fragments)
        assert_passed(found, *(set(found) - set(failing)))
        blocking_error = any(sev == ERROR for sev, *_ in failing.values())
        assert result.success is not blocking_error


# -- target_schema -------------------------------------------------------------------------
def schema(url: str, *, checks_only: bool = False):
    return dg.materialize(
        [target_schema, target_schema_checks],
        selection=dg.AssetSelection.checks_for_assets(target_schema) if checks_only else None,
        resources={"target_db": TargetDatabase(url=url)},
        raise_on_error=False,
    )


def test_target_schema_checks_pass_then_catch_a_renamed_signal_and_a_lost_key(new_database):
    url = new_database("schema_checks")
    result = schema(url)
    assert result.success
    assert_passed(verdicts(result), "eight_signals", "tables_match_models")

    execute(url, "UPDATE signal SET name = 'wind_speed_avg' WHERE name = 'wind_speed_mean'")
    execute(url, "ALTER TABLE data DROP CONSTRAINT data_pkey")
    result = schema(url, checks_only=True)
    assert not result.success
    found = verdicts(result)
    assert_failed(
        found,
        "eight_signals",
        ERROR,
        "missing signal(s): wind_speed_mean (the table also holds: wind_speed_avg)",
    )
    assert_failed(
        found,
        "tables_match_models",
        ERROR,
        "data has primary key (), the model says (signal_id, timestamp)",
    )


def test_target_schema_checks_on_an_empty_database(new_database):
    url = new_database("schema_empty")
    found = verdicts(schema(url, checks_only=True))
    assert_failed(found, "eight_signals", ERROR, "table signal does not exist")
    assert_failed(found, "tables_match_models", ERROR, "table signal does not exist")


def test_a_seed_window_that_ends_today_matches_its_config(new_database):
    url = new_database("seed_today")
    today = datetime.now(UTC).date()
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [source_seed, source_seed_checks],
            instance=instance,
            resources={"source_db": SourceDatabase(url=url)},
            run_config=dg.RunConfig({"source_seed": {"config": {"end_date": "today", "days": 2}}}),
        )
    found = verdicts(result)
    assert_passed(found, "matches_config", "one_row_a_minute", "values_usable")
    first = today - timedelta(days=1)
    assert (
        f"2,880 rows from {first}T00:00Z to {today}T23:59Z, as configured"
        in found["matches_config"].description
    )


def test_a_malformed_seed_date_fails_with_one_clear_line(new_database):
    url = new_database("seed_bad")
    result = dg.materialize(
        [source_seed],
        resources={"source_db": SourceDatabase(url=url)},
        run_config=dg.RunConfig({"source_seed": {"config": {"end_date": "2024-13-01"}}}),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == (
        "source_seed config end_date='2024-13-01' is not a date: expected YYYY-MM-DD or `today`"
    )
