"""The domain's facts and the synthetic Source generator, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from wind_pipeline.domain import (
    BUCKETS_PER_DAY,
    FIRST_PARTITION_DAY,
    ROWS_PER_DAY,
    SIGNAL_NAMES,
    PowerCurve,
    SourcePeriod,
)
from wind_pipeline.source_data import generate_turbine_data


def test_the_eight_signals_and_a_days_row_count():
    assert SIGNAL_NAMES == (
        "wind_speed_mean",
        "wind_speed_min",
        "wind_speed_max",
        "wind_speed_std",
        "power_mean",
        "power_min",
        "power_max",
        "power_std",
    )
    assert BUCKETS_PER_DAY == 144 and ROWS_PER_DAY == 1152
    assert FIRST_PARTITION_DAY == date(2024, 1, 1)


def test_power_curve_by_hand():
    curve = PowerCurve()
    speeds = np.array([0.0, 2.99, 3.0, 7.5, 12.0, 24.99, 25.0, 40.0])
    # Between cut-in and rated: rated * (v^3 - 3^3) / (12^3 - 3^3); 7.5 m/s -> 2000 * 394.875 / 1701.
    expected = [0.0, 0.0, 0.0, 2000 * (7.5**3 - 27) / (1728 - 27), 2000, 2000, 0.0, 0.0]
    np.testing.assert_allclose(curve(speeds), expected)


def test_source_period_describes_itself_and_its_full_days():
    period = SourcePeriod(
        first=datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
        last=datetime(2024, 1, 10, 23, 59, tzinfo=UTC),
        row_count=14_400,
    )
    assert period.describe() == (
        "the source holds 14,400 rows from 2024-01-01T00:00Z to 2024-01-10T23:59Z"
    )
    assert [d.day for d in period.full_days()] == list(range(1, 11))
    # Starting mid-day and ending before 23:59: only the days wholly inside count.
    partial = SourcePeriod(
        datetime(2024, 1, 1, 0, 1, tzinfo=UTC), datetime(2024, 1, 3, 23, 58, tzinfo=UTC), 4317
    )
    assert [d.day for d in partial.full_days()] == [2]
    empty = SourcePeriod(None, None, 0)
    assert empty.describe() == "the source holds no data" and empty.full_days() == []


def test_generated_data_is_the_documented_period_once_a_minute():
    frame = generate_turbine_data()
    assert len(frame) == 14_400
    assert frame["timestamp"].iloc[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert frame["timestamp"].iloc[-1] == datetime(2024, 1, 10, 23, 59, tzinfo=UTC)
    assert frame["timestamp"].diff().dropna().eq(np.timedelta64(1, "m")).all()
    assert list(frame.columns) == ["timestamp", "wind_speed", "power", "ambient_temperature"]


@pytest.mark.parametrize("days", [1, 3])
def test_generated_data_has_the_rows_asked_for(days):
    frame = generate_turbine_data(datetime(2024, 2, 1, tzinfo=UTC), days=days)
    assert len(frame) == 1440 * days
    assert frame["timestamp"].iloc[0] == datetime(2024, 2, 1, tzinfo=UTC)


def test_generated_data_looks_like_a_turbine():
    frame = generate_turbine_data(days=10)
    curve = PowerCurve()
    wind, power = frame["wind_speed"].to_numpy(), frame["power"].to_numpy()
    assert (wind >= 0).all() and 4 < wind.mean() < 10
    # Wind is autocorrelated minute to minute, not white noise.
    assert np.corrcoef(wind[:-1], wind[1:])[0, 1] > 0.9
    # Power follows the curve: nothing below cut-in, never above rated.
    assert (power[wind < curve.cut_in] == 0).all()
    assert power.max() <= curve.rated_power
    assert np.corrcoef(wind, power)[0, 1] > 0.8
    # Temperature has a daily cycle: afternoons are warmer than nights on average.
    hours = frame["timestamp"].dt.hour
    temp = frame["ambient_temperature"]
    assert temp[(hours >= 13) & (hours <= 16)].mean() > temp[(hours >= 1) & (hours <= 4)].mean() + 3
    # Deterministic for a given seed.
    assert generate_turbine_data(days=1).equals(generate_turbine_data(days=1))
