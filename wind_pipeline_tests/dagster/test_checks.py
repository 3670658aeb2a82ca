"""Asset checks: each passes on a normal day and fails, with the expected severity and message,
on a day with a gap, a day with a NaN, and a tampered Target. Real PostgreSQL, the real API.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.assets.source import source_seed
from wind_pipeline.assets.target import target_schema
from wind_pipeline.checks import source_seed_checks, target_schema_checks
from wind_pipeline.checks.aggregate_verdicts import EVALUATE
from wind_pipeline.checks.run_rows import RunRows
from wind_pipeline.etl.coverage import profile_days
from wind_pipeline.etl.days import DayIndex
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


# -- the same checks over many days at once, in memory ---------------------------------------
START = datetime(2024, 1, 1, tzinfo=UTC)
FIVE_DAYS = [(START + timedelta(days=i)).date() for i in range(5)]


def at(day: int, clock: str, seconds: int = 0) -> pd.Timestamp:
    hours, minutes = map(int, clock.split(":"))
    return pd.Timestamp(START + timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds))


def target_rows(source: pd.DataFrame) -> pd.DataFrame:
    """What the Target holds after a correct run, as `read_target_days` returns it.

    Computed bucket by bucket with the `statistics` module, not with the pandas transform the
    `matches_source` check compares against, so a wrong transform cannot agree with itself.
    """
    buckets: dict[tuple[str, pd.Timestamp], list[float]] = {}
    for row in source.itertuples(index=False):
        for variable in ("wind_speed", "power"):
            value = getattr(row, variable)
            if np.isfinite(value):
                buckets.setdefault((variable, row.timestamp.floor("10min")), []).append(value)
    rows = []
    for (variable, bucket), values in buckets.items():
        std = statistics.stdev(values) if len(values) > 1 else np.nan
        for stat, value in (
            ("mean", statistics.fmean(values)),
            ("min", min(values)),
            ("max", max(values)),
            ("std", std),
        ):
            rows.append((f"{variable}_{stat}", bucket, value, False))
    frame = pd.DataFrame(rows, columns=["signal", "timestamp", "value", "is_nan"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns")
    return frame.sort_values(["timestamp", "signal"], ignore_index=True)


def test_profile_days_describes_each_day():
    source = generate_turbine_data(START, 5)[["timestamp", "wind_speed", "power"]]
    stamps = source["timestamp"]
    source = source[~((stamps >= at(1, "10:00")) & (stamps < at(1, "11:00")))]
    source = source[
        (source["timestamp"] < at(3, "00:00")) | (source["timestamp"] >= at(4, "00:00"))
    ]
    source.loc[source["timestamp"] == at(2, "12:00"), "wind_speed"] = np.nan
    source.loc[source["timestamp"] == at(2, "12:01"), "power"] = np.inf
    source.loc[source["timestamp"] == at(2, "05:00"), "timestamp"] = at(2, "05:00", 30)
    # Day 4: 1,440 distinct times, but 06:01 is missing (06:00:30 does not stand in for it).
    source.loc[source["timestamp"] == at(4, "06:01"), "timestamp"] = at(4, "06:00", 30)
    repeated = source[source["timestamp"] == at(4, "06:00")]
    source = pd.concat([source, repeated]).sort_values("timestamp", ignore_index=True)

    profiles = profile_days(source, DayIndex.of(source["timestamp"], FIVE_DAYS))

    assert [p.minutes_present for p in profiles] == [1440, 1380, 1440, 0, 1439]
    assert not profiles[4].complete
    assert profiles[4].missing_ranges == ((at(4, "06:01"), at(4, "06:01")),)
    assert profiles[1].missing_ranges == ((at(1, "10:00"), at(1, "10:59")),)
    assert profiles[2].unusable == {"wind_speed": 1, "power": 1}
    assert profiles[3].missing_ranges == ((at(3, "00:00"), at(3, "23:59")),)


def test_all_day_checks_keep_each_day_to_itself():
    """One pass over a run's days gives each day the verdict a run of that day alone gives."""
    source = generate_turbine_data(START, 5)[["timestamp", "wind_speed", "power"]]
    target = target_rows(source)
    # Day 1 is not in the run: its tampered rows must not show up anywhere.
    target.loc[target["timestamp"] == at(1, "12:00"), "value"] = -1.0
    # Day 2: the Source lost an hour since the run, a value was changed, a row repeated.
    stamps = source["timestamp"]
    source = source[~((stamps >= at(2, "10:00")) & (stamps < at(2, "11:00")))]
    changed = (target["timestamp"] == at(2, "12:00")) & (target["signal"] == "wind_speed_min")
    target.loc[changed, "value"] = 99.0
    repeated = target[(target["timestamp"] == at(2, "06:00")) & (target["signal"] == "power_max")]
    # Day 3: no Source rows and no Target rows. Day 4: Source rows, no Target rows.
    source = source[
        (source["timestamp"] < at(3, "00:00")) | (source["timestamp"] >= at(4, "00:00"))
    ]
    target = target[target["timestamp"] < at(3, "00:00")]
    target = pd.concat([target, repeated]).sort_values(["timestamp", "signal"], ignore_index=True)
    days = [FIVE_DAYS[0], FIVE_DAYS[2], FIVE_DAYS[3], FIVE_DAYS[4]]

    # The Source frame still holds day 1: rows of days outside the run are left out.
    run = RunRows.of(days, source, target)
    found = {
        name: dict(zip(days, evaluate(run), strict=True)) for name, evaluate in EVALUATE.items()
    }

    first, tampered, empty, unwritten = days
    assert all(found[name][first].passed for name in found), "the first day is untouched"
    assert found["complete"][first].metadata["incomplete_buckets"] == "none"
    assert found["consistent"][first].metadata["rows_checked"] == 1152

    complete = found["complete"][tampered]
    assert (complete.passed, complete.severity) == (False, ERROR)
    assert complete.description == (
        "2024-01-03: the Target holds 49 row(s) the Source does not support (power_max 10:00, "
        "power_mean 10:00, power_min 10:00, power_std 10:00, wind_speed_max 10:00 (+44 more)); "
        "re-materialize 2024-01-03"
    )
    assert complete.metadata["rows_extra_vs_source"] == 49
    assert complete.metadata["rows"] == 1153
    assert found["consistent"][tampered].description.startswith(
        "2024-01-03: 2 inconsistent value(s): power_max 06:00 is stored twice; "
        "wind_speed 12:00: min 99, mean "
    )
    assert found["consistent"][tampered].metadata["violations_duplicate"] == 1
    matches = found["matches_source"][tampered]
    assert matches.metadata["values_differing"] == 1
    assert "wind_speed_min 12:00: Target 99, Source" in matches.description
    assert "1,380 of 1,440 minutes present (95.83%), missing 10:00-10:59" in (
        found["source_coverage"][tampered].description
    )

    complete = found["complete"][empty]
    assert (complete.passed, complete.severity) == (False, WARN)
    assert complete.description == (
        "2024-01-04: 0 of 144 buckets complete (0 of 1,152 rows); the Source has no usable "
        "data for bucket(s) 00:00-23:50"
    )
    assert found["consistent"][empty].passed
    assert found["matches_source"][empty].metadata["values_compared"] == 0
    assert found["source_coverage"][empty].description == (
        "2024-01-04: 0 of 1,440 minutes present (0.0%), missing 00:00-23:59"
    )

    complete = found["complete"][unwritten]
    assert (complete.passed, complete.severity) == (False, ERROR)
    assert complete.description.startswith("2024-01-05: the Target misses 1152 row(s)")
    assert found["source_coverage"][unwritten].passed


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
