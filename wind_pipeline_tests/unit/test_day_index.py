"""`DayIndex` (each day's rows, as a mask over the run would give them), day arithmetic, and
`replace_window`'s refusal of signals the Target lacks (before it connects)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from wind_pipeline.etl.days import DayIndex, days_between, window_of
from wind_pipeline.etl.load import TargetSchemaMissing, replace_window
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.source_data import generate_turbine_data


def masked(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    start = pd.Timestamp(day.isoformat(), tz="UTC")
    stamps = frame["timestamp"]
    return frame[(stamps >= start) & (stamps < start + pd.Timedelta(days=1))]


def test_each_day_gets_its_rows_in_the_frames_order():
    rows = aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=4))
    # Drop a whole day, shuffle, and give the rows a non-default index.
    rows = rows[rows["timestamp"].dt.day != 3].sample(frac=1, random_state=5)
    rows.index = rows.index * 3 + 7
    days = [date(2024, 1, 1) + timedelta(days=offset) for offset in range(-1, 6)]
    index = DayIndex.of(rows["timestamp"], days)
    for i, day in enumerate(days):
        got = rows.iloc[index.rows_of(i)]
        pd.testing.assert_frame_equal(got, masked(rows, day), check_index_type=True)
        assert index.rows_per_day[i] == len(got)
    empty = [date(2023, 12, 31), date(2024, 1, 3), date(2024, 1, 5), date(2024, 1, 6)]
    assert index.empty_days() == empty


def test_rows_of_days_outside_the_index_are_left_out():
    rows = aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=3))
    index = DayIndex.of(rows["timestamp"], [date(2024, 1, 2)])
    assert index.rows_per_day.tolist() == [1152]
    assert (index.position == -1).sum() == 2 * 1152
    assert rows.iloc[index.rows_of(0)]["timestamp"].dt.day.unique().tolist() == [2]


def test_days_between_and_the_window_of_days():
    start = datetime(2024, 1, 30, tzinfo=UTC)
    days = days_between(start, start + timedelta(days=3))
    assert days == [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1)]
    assert window_of(days) == (start, datetime(2024, 2, 2, tzinfo=UTC))
    assert days_between(start, start) == []


def test_rows_of_a_signal_the_target_lacks_are_refused_before_any_write():
    rows = aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=1))
    rows.loc[rows.index[5:9], "signal"] = "power_median"
    known = {name: i for i, name in enumerate(sorted(set(rows["signal"]) - {"power_median"}))}
    # Nothing listens on port 1: the check must fail before connecting.
    nowhere = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(TargetSchemaMissing, match=r"\['power_median'\]"):
        replace_window(nowhere, rows, start, start + timedelta(days=1), known)
