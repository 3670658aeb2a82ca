"""The bad-value policy on hand-made frames: NaN, +/-infinity and out-of-range values are
skipped like NULLs and counted by reason, per day of a run. The same policy through the API and
the asset, against PostgreSQL, is in pipeline/test_bad_values.py."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.domain import PLAUSIBLE_RANGES
from wind_pipeline.etl.transform import aggregate_10min, clean_values, clean_values_grouped
from wind_pipeline.source_data import generate_turbine_data

DAY = datetime(2024, 1, 5, tzinfo=UTC)
WIND = PLAUSIBLE_RANGES["wind_speed"]
POWER = PLAUSIBLE_RANGES["power"]


def test_the_plausible_ranges():
    assert (WIND.low, WIND.high, WIND.unit) == (0.0, 75.0, "m/s")
    assert (POWER.low, POWER.high, POWER.unit) == (-200.0, 3000.0, "kW")


def test_policy_on_a_hand_made_frame_with_nullable_and_numpy_floats():
    timestamps = pd.date_range(DAY, periods=8, freq="min")
    frame = pd.DataFrame(
        {
            "timestamp": timestamps,
            "wind_speed": np.array(
                [
                    WIND.low,
                    WIND.high,
                    np.nextafter(WIND.low, -1),
                    np.nextafter(WIND.high, 99),
                    np.nan,
                    np.inf,
                    -np.inf,
                    5.0,
                ]
            ),
            "power": pd.array([1.0, None, 2.0, 3.0, 4.0, 5.0, 6.0, POWER.low], dtype="Float64"),
        }
    )
    cleaned, counts = clean_values(frame)
    assert cleaned["wind_speed"].tolist()[:2] == [WIND.low, WIND.high]  # bounds are inclusive
    assert np.isnan(cleaned["wind_speed"].to_numpy()[2:7]).all()
    assert counts.skipped["wind_speed"] == {
        "missing": 1,
        "infinite": 2,
        "below_range": 1,
        "above_range": 1,
    }
    assert counts.skipped["power"] == {
        "missing": 1,
        "infinite": 0,
        "below_range": 0,
        "above_range": 0,
    }
    # The original frame is not modified, and the plain function applies the same policy.
    assert np.isinf(frame["wind_speed"]).sum() == 2
    plain = aggregate_10min(frame)
    by_signal = dict(zip(plain["signal"], plain["value"], strict=True))
    assert by_signal["wind_speed_max"] == WIND.high and by_signal["wind_speed_min"] == WIND.low
    assert by_signal["wind_speed_mean"] == pytest.approx((WIND.low + WIND.high + 5.0) / 3)


def test_a_run_is_cleaned_in_one_pass_and_counted_per_day():
    """run_etl cleans all its days at once: the same values and counts as one day at a time."""
    frame = generate_turbine_data(DAY, days=3)[["timestamp", "wind_speed", "power"]]
    rng = np.random.default_rng(11)
    for column, bad in (
        ("wind_speed", [np.nan, np.inf, -2.0, 99.0]),
        ("power", [np.nan, -np.inf, 1e7]),
    ):
        rows = rng.choice(len(frame), size=60, replace=False)
        frame.loc[rows, column] = rng.choice(bad, size=60)
    days = [part for _, part in frame.groupby(frame["timestamp"].dt.date)]
    # The second day has no bad values at all; a group of no rows counts zeros.
    days[1] = days[1].assign(wind_speed=5.0, power=100.0)
    groups = np.repeat(np.arange(4), [len(d) for d in days] + [0])

    cleaned, counts = clean_values_grouped(pd.concat(days, ignore_index=True), groups, 4)
    one_at_a_time = [clean_values(day) for day in days]
    expected = pd.concat([c for c, _ in one_at_a_time], ignore_index=True)
    pd.testing.assert_frame_equal(cleaned, expected, check_exact=True)
    assert counts[:3] == [q for _, q in one_at_a_time]
    assert counts[1].total() == 0 and counts[0].total() > 0
    assert counts[3].rows == 0 and counts[3].total() == 0
