"""The turbine model's two uses without a database: the seeded ten days are exactly what they
were before the live feed shared the model, and the feed's continuation is a function of the
minute (and the seed) only, gap-free, seamless across midnight and physically plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.domain import PLAUSIBLE_RANGES, PowerCurve
from wind_pipeline.source_data import generate_turbine_data
from wind_pipeline.turbine_model import readings_between

DAY = datetime(2026, 11, 27, tzinfo=UTC)


def test_the_design_cards_ten_days_are_unchanged():
    frame = generate_turbine_data()
    values = frame.set_index("timestamp")
    assert values.loc["2024-01-01T00:00Z"].tolist() == [8.339, 631.29, 2.93]
    assert values.loc["2024-01-06T00:00Z"].tolist() == [11.697, 1752.0, 0.37]
    assert values.loc["2024-01-10T23:59Z"].tolist() == [3.012, 0.42, 0.84]
    sums = frame[["wind_speed", "power", "ambient_temperature"]].sum().round(2).tolist()
    assert sums == [87714.75, 5915813.38, 57534.73]


def test_a_minute_has_the_same_values_however_the_feed_reaches_it():
    end = DAY + timedelta(days=3, hours=15, minutes=31)
    whole = readings_between(DAY, end, 42)
    tail = readings_between(end - timedelta(minutes=30), end, 42)
    assert len(whole) == (end - DAY) // timedelta(minutes=1)
    assert whole["timestamp"].iloc[0] == DAY and whole["timestamp"].iloc[-1] == end - timedelta(
        minutes=1
    )
    assert whole["timestamp"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
    pd.testing.assert_frame_equal(whole.tail(30).reset_index(drop=True), tail)
    assert not readings_between(DAY, DAY + timedelta(days=1), 7).equals(
        readings_between(DAY, DAY + timedelta(days=1), 42)
    ), "the seed matters"
    assert readings_between(end, end, 42).empty
    with pytest.raises(ValueError, match="timezone-aware"):
        readings_between(DAY.replace(tzinfo=None), end, 42)


def test_live_days_look_like_the_turbine_and_join_seamlessly():
    frame = readings_between(DAY, DAY + timedelta(days=60), 42)
    for name, bounds in PLAUSIBLE_RANGES.items():
        assert frame[name].between(bounds.low, bounds.high).all(), name
    wind, power = frame["wind_speed"].to_numpy(), frame["power"].to_numpy()
    assert 4 < wind.mean() < 10 and np.corrcoef(wind[:-1], wind[1:])[0, 1] > 0.9
    assert (power[wind < PowerCurve().cut_in] == 0).all()
    # At midnight a day's warm-up meets the previous day: no jump beyond the usual minute step.
    steps = frame.set_index("timestamp")[["wind_speed", "ambient_temperature"]].diff().abs()
    midnight = steps[(steps.index.hour == 0) & (steps.index.minute == 0)].iloc[1:]
    for name in ("wind_speed", "ambient_temperature"):
        assert midnight[name].mean() < 2 * steps[name].mean(), name
