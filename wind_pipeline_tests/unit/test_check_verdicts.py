"""The aggregates' check verdicts as pure functions: a run's Source rows and Target rows in,
one outcome a day out. No Dagster run and no database (dagster/test_checks.py runs the same
checks through Dagster on real PostgreSQL).

The Target rows are built independently of the production transform the checks compare
against (`statistics` bucket by bucket, or written by hand), so a wrong transform cannot agree
with itself.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from wind_pipeline.checks.aggregate_verdicts import (
    EVALUATE,
    complete_outcomes,
    consistent_outcomes,
    matches_source_outcomes,
    source_coverage_outcome,
)
from wind_pipeline.checks.outcome import ERROR, WARN
from wind_pipeline.checks.run_rows import RunRows
from wind_pipeline.etl.coverage import DayCoverage, profile_days
from wind_pipeline.etl.days import DayIndex
from wind_pipeline.source_data import generate_turbine_data

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


# -- one bucket, by hand -------------------------------------------------------------------
DAY = date(2024, 1, 5)
T0 = pd.Timestamp("2024-01-05T00:00Z").as_unit("ns")

# Source minutes 00:00, 00:01, 00:02: wind 2, 4, 9 and power 100, 200, 600.
ONE_BUCKET_SOURCE = pd.DataFrame(
    {
        "timestamp": pd.date_range(T0, periods=3, freq="1min"),
        "wind_speed": [2.0, 4.0, 9.0],
        "power": [100.0, 200.0, 600.0],
    }
)
# What a correct load of that bucket holds, worked out by hand (sample std, ddof=1).
BY_HAND = {
    "wind_speed_mean": 5.0,
    "wind_speed_min": 2.0,
    "wind_speed_max": 9.0,
    "wind_speed_std": math.sqrt(13),
    "power_mean": 300.0,
    "power_min": 100.0,
    "power_max": 600.0,
    "power_std": math.sqrt(70_000),
}


def one_bucket_target(**changed: float) -> pd.DataFrame:
    values = {**BY_HAND, **changed}
    return pd.DataFrame(
        {
            "signal": list(values),
            "timestamp": [T0] * len(values),
            "value": list(values.values()),
            "is_nan": [False] * len(values),
        }
    )


def one_bucket(target: pd.DataFrame, source: pd.DataFrame = ONE_BUCKET_SOURCE) -> RunRows:
    return RunRows.of([DAY], source, target)


def test_a_hand_computed_bucket_matches_and_is_consistent():
    run = one_bucket(one_bucket_target())
    (matches,) = matches_source_outcomes(run)
    assert matches.passed, matches.description
    assert matches.metadata == {"values_compared": 8, "values_differing": 0}
    (consistent,) = consistent_outcomes(run)
    assert consistent.passed and consistent.metadata["rows_checked"] == 8


def test_matches_source_tolerates_rounding_only():
    rounding = one_bucket_target(wind_speed_mean=5.0 * (1 + 1e-12))
    assert matches_source_outcomes(one_bucket(rounding))[0].passed
    off = one_bucket_target(wind_speed_mean=5.0005, power_std=264.0)
    (outcome,) = matches_source_outcomes(one_bucket(off))
    assert (outcome.passed, outcome.severity) == (False, ERROR)
    assert outcome.description == (
        "2024-01-05: 2 value(s) differ from the Source's current rows: "
        "power_std 00:00: Target 264, Source 264.575; "
        "wind_speed_mean 00:00: Target 5.0005, Source 5; re-materialize 2024-01-05"
    )


def test_a_population_std_is_caught():
    # ddof=0 would give sqrt(26/3) for the wind: a transform with the wrong std must not pass.
    wrong = one_bucket_target(wind_speed_std=math.sqrt(26 / 3))
    (outcome,) = matches_source_outcomes(one_bucket(wrong))
    assert not outcome.passed
    assert "wind_speed_std 00:00: Target 2.94392, Source 3.60555" in outcome.description


def test_one_sample_has_a_null_std_on_both_sides():
    source = ONE_BUCKET_SOURCE.iloc[:1]
    target = one_bucket_target(
        wind_speed_mean=2.0, wind_speed_max=2.0, wind_speed_std=np.nan,
        power_mean=100.0, power_max=100.0, power_std=np.nan,
    )  # fmt: skip
    run = one_bucket(target, source)
    assert matches_source_outcomes(run)[0].passed
    assert consistent_outcomes(run)[0].passed, "a NULL std is allowed"


def test_consistent_names_each_kind_of_bad_value():
    target = one_bucket_target(
        wind_speed_min=6.0,  # above the mean 5
        power_std=-1.0,
        power_mean=np.inf,
        wind_speed_max=np.nan,  # a NULL that is not a std
    )
    stored_nan = target["signal"] == "power_min"
    target.loc[stored_nan, ["value", "is_nan"]] = [np.nan, True]
    (outcome,) = consistent_outcomes(one_bucket(target))
    assert (outcome.passed, outcome.severity) == (False, ERROR)
    assert outcome.metadata == {
        "rows_checked": 8,
        "violations_duplicate": 0,
        "violations_nan": 1,
        "violations_infinite": 1,
        "violations_null_statistic": 1,
        "violations_min_mean_max_order": 1,
        "violations_std": 1,
    }
    assert outcome.description == (
        "2024-01-05: 5 inconsistent value(s): power_min 00:00 is NaN; power_mean 00:00 is inf; "
        "wind_speed_max 00:00 is NULL; wind_speed 00:00: min 6, mean 5, max NULL; "
        "power_std 00:00 is -1 < 0"
    )


def test_complete_warns_for_buckets_the_source_cannot_fill_and_errors_for_extra_rows():
    (outcome,) = complete_outcomes(one_bucket(one_bucket_target()))
    assert (outcome.passed, outcome.severity) == (False, WARN)
    assert outcome.description == (
        "2024-01-05: 1 of 144 buckets complete (8 of 1,152 rows); the Source has no usable "
        "data for bucket(s) 00:10-23:50"
    )
    assert outcome.metadata["buckets_complete"] == 1
    off_grid = one_bucket_target()
    off_grid["timestamp"] = T0 + pd.Timedelta(minutes=5)
    (outcome,) = complete_outcomes(one_bucket(pd.concat([one_bucket_target(), off_grid])))
    assert (outcome.passed, outcome.severity) == (False, ERROR)
    assert outcome.description.startswith(
        "2024-01-05: the Target holds 8 row(s) the Source does not support (power_max 00:05, "
    )


def test_source_coverage_outcome():
    whole = DayCoverage(DAY, 1440, {"wind_speed": 0, "power": 0})
    outcome = source_coverage_outcome(whole)
    assert outcome.passed
    assert outcome.description == ("2024-01-05: 1,440 of 1,440 minutes present, every value usable")
    gap = (
        datetime(2024, 1, 5, 10, tzinfo=UTC),
        datetime(2024, 1, 5, 10, 59, tzinfo=UTC),
    )
    partial = DayCoverage(DAY, 1380, {"wind_speed": 2, "power": 0}, (gap,))
    outcome = source_coverage_outcome(partial)
    assert (outcome.passed, outcome.severity) == (False, WARN)
    assert outcome.description == (
        "2024-01-05: 1,380 of 1,440 minutes present (95.83%), missing 10:00-10:59; "
        "2 wind_speed value(s) skipped (NULL, NaN, infinite or out of range)"
    )
    assert outcome.metadata["missing_ranges"] == "10:00-10:59"
    assert outcome.metadata["unusable_values"] == {"wind_speed": 2, "power": 0}
