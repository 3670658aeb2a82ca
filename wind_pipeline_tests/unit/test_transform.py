"""The 10-minute aggregation on small hand-made frames, against numbers worked out by hand.

Semantics (docs/architecture.md): buckets closed on the left and labelled by their start;
NULL values skipped; std is the sample std (ddof=1), NULL for one sample; a bucket without
a value for a variable gives that variable no rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.transform import aggregate_10min, aggregate_10min_with_quality


def minutes(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime([f"2024-01-05T{s}Z" for s in stamps], utc=True))


def frame(stamps: list[str], wind: list[float | None], power: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": minutes(*stamps),
            "wind_speed": pd.array(wind, dtype="Float64"),
            "power": pd.array(power, dtype="Float64"),
        }
    )


def values(rows: pd.DataFrame) -> dict[tuple[str, str], float]:
    """{(HH:MM of the bucket, signal): value}."""
    return {
        (stamp.strftime("%H:%M"), signal): value
        for stamp, signal, value in rows.itertuples(index=False)
    }


def test_one_bucket_by_hand():
    # wind 2, 4, 9: mean 5, min 2, max 9, sample std sqrt(((−3)² + (−1)² + 4²) / 2) = sqrt(13)
    # power 100, 200, 600: mean 300, std sqrt((200² + 100² + 300²) / 2) = sqrt(70000)
    rows = aggregate_10min(frame(["00:00", "00:04", "00:09"], [2, 4, 9], [100, 200, 600]))
    got = values(rows)
    assert got == pytest.approx(
        {
            ("00:00", "wind_speed_mean"): 5.0,
            ("00:00", "wind_speed_min"): 2.0,
            ("00:00", "wind_speed_max"): 9.0,
            ("00:00", "wind_speed_std"): math.sqrt(13),
            ("00:00", "power_mean"): 300.0,
            ("00:00", "power_min"): 100.0,
            ("00:00", "power_max"): 600.0,
            ("00:00", "power_std"): math.sqrt(70_000),
        }
    )


def test_std_is_the_sample_std_not_the_population_std():
    rows = aggregate_10min(frame(["00:00", "00:01"], [1, 3], [0, 0]))
    std = values(rows)[("00:00", "wind_speed_std")]
    assert std == pytest.approx(math.sqrt(2))  # ddof=1; ddof=0 would give 1.0


def test_one_sample_gives_a_null_std_and_the_value_as_mean_min_max():
    rows = aggregate_10min(frame(["00:03"], [7.5], [1200]))
    got = values(rows)
    assert got[("00:00", "wind_speed_mean")] == got[("00:00", "wind_speed_min")] == 7.5
    assert got[("00:00", "wind_speed_max")] == 7.5
    assert math.isnan(got[("00:00", "wind_speed_std")])
    assert math.isnan(got[("00:00", "power_std")])
    assert len(rows) == 8, "the NULL std is still a row"


def test_buckets_are_closed_on_the_left_and_labelled_by_their_start():
    rows = aggregate_10min(frame(["00:09", "00:10", "00:19", "00:20"], [1, 2, 4, 8], [0, 0, 0, 0]))
    means = {k[0]: v for k, v in values(rows).items() if k[1] == "wind_speed_mean"}
    assert means == {"00:00": 1.0, "00:10": 3.0, "00:20": 8.0}


def test_an_off_minute_row_falls_in_the_bucket_of_its_time():
    rows = aggregate_10min(frame(["00:09:59", "00:10:00"], [1, 5], [0, 0]))
    means = {k[0]: v for k, v in values(rows).items() if k[1] == "wind_speed_mean"}
    assert means == {"00:00": 1.0, "00:10": 5.0}


def test_nulls_are_skipped_not_counted_as_zero():
    rows = aggregate_10min(frame(["00:00", "00:01", "00:02"], [None, 4, 6], [10, None, None]))
    got = values(rows)
    assert got[("00:00", "wind_speed_mean")] == 5.0
    assert got[("00:00", "wind_speed_min")] == 4.0
    assert got[("00:00", "wind_speed_std")] == pytest.approx(math.sqrt(2))
    assert got[("00:00", "power_mean")] == 10.0
    assert math.isnan(got[("00:00", "power_std")]), "one non-NULL power value"


def test_a_bucket_without_values_of_a_variable_gives_it_no_rows():
    rows = aggregate_10min(frame(["00:00", "00:01", "00:10"], [1, 2, 3], [None, None, 50]))
    signals_at = rows.groupby(rows["timestamp"].dt.strftime("%H:%M"))["signal"].apply(set)
    assert signals_at["00:00"] == {s for s in SIGNAL_NAMES if s.startswith("wind_speed")}
    assert signals_at["00:10"] == set(SIGNAL_NAMES)


def test_empty_buckets_produce_no_rows():
    # Data at 00:00 and 00:40 only: nothing for 00:10, 00:20, 00:30.
    rows = aggregate_10min(frame(["00:00", "00:40"], [1, 2], [3, 4]))
    assert sorted(set(rows["timestamp"].dt.strftime("%H:%M"))) == ["00:00", "00:40"]
    assert len(rows) == 2 * 8


def test_an_empty_frame_gives_typed_empty_rows():
    empty = frame([], [], [])
    rows = aggregate_10min(empty)
    assert list(rows.columns) == ["timestamp", "signal", "value"]
    assert rows.empty
    assert str(rows["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert rows["value"].dtype == np.float64


def test_a_full_day_has_144_buckets_and_1152_rows():
    stamps = pd.date_range("2024-01-05", periods=1440, freq="1min", tz="UTC")
    day = pd.DataFrame(
        # Wind speeds 0..69 m/s, repeating (inside the plausible range), constant power.
        {"timestamp": stamps, "wind_speed": np.arange(1440.0) % 70, "power": np.ones(1440)}
    )
    rows = aggregate_10min(day)
    assert len(rows) == 1152
    assert rows["timestamp"].nunique() == 144
    got = values(rows)
    # Bucket 12:00 holds minutes 720..729, speeds 20..29: mean 24.5, std of ten consecutive integers.
    assert got[("12:00", "wind_speed_mean")] == 24.5
    assert got[("12:00", "wind_speed_std")] == pytest.approx(np.std(np.arange(10.0), ddof=1))
    assert got[("12:00", "power_std")] == 0.0


def test_rows_are_the_same_whatever_the_input_order():
    stamps = ["00:00", "00:01", "00:05", "00:12", "00:13"]
    ordered = frame(stamps, [1, 2, 3, 4, 5], [10, 20, 30, 40, 50])
    shuffled = ordered.sample(frac=1, random_state=3)
    key = ["signal", "timestamp"]
    pd.testing.assert_frame_equal(
        aggregate_10min(ordered).sort_values(key).reset_index(drop=True),
        aggregate_10min(shuffled).sort_values(key).reset_index(drop=True),
    )


def test_bad_values_are_skipped_like_nulls_and_counted():
    rows, counts = aggregate_10min_with_quality(
        frame(
            ["00:00", "00:01", "00:02", "00:03", "00:04"],
            [2.0, float("nan"), float("inf"), -1.0, 4.0],
            [100.0, 5000.0, None, -1000.0, 300.0],
        )
    )
    got = values(rows)
    assert got[("00:00", "wind_speed_mean")] == 3.0  # only 2 and 4
    assert got[("00:00", "power_mean")] == 200.0  # only 100 and 300
    assert counts.rows == 5
    assert counts.used == {"wind_speed": 2, "power": 2}
    assert counts.skipped["wind_speed"] == {
        "missing": 1,
        "infinite": 1,
        "below_range": 1,
        "above_range": 0,
    }
    assert counts.skipped["power"] == {
        "missing": 1,
        "infinite": 0,
        "below_range": 1,
        "above_range": 1,
    }
    assert counts.invalid == 4
    assert counts.as_metadata()["values_missing"] == 2
