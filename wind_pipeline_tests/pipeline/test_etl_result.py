"""`EtlResult.aggregates_for` (each day's rows, as a mask over the run would give them), and
`replace_window`'s refusal of signals the Target lacks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from wind_pipeline.etl.load import TargetSchemaMissing, replace_window
from wind_pipeline.etl.pipeline import EtlResult
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.source_data import generate_turbine_data


def masked(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    start = pd.Timestamp(day.isoformat(), tz="UTC")
    stamps = frame["timestamp"]
    return frame[(stamps >= start) & (stamps < start + pd.Timedelta(days=1))]


def test_each_day_gets_its_rows_in_the_runs_order():
    rows = aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=4))
    # Drop a whole day, shuffle, and give the rows a non-default index.
    rows = rows[rows["timestamp"].dt.day != 3].sample(frac=1, random_state=5)
    rows.index = rows.index * 3 + 7
    result = EtlResult(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 6, tzinfo=UTC))
    result.aggregates = rows
    for offset in range(-1, 6):
        day = date(2024, 1, 1) + timedelta(days=offset)
        got = result.aggregates_for(day)
        pd.testing.assert_frame_equal(got, masked(rows, day), check_index_type=True)
    assert result.aggregates_for(date(2024, 1, 3)).empty

    # A result given other rows answers for those, not from the old grouping.
    fewer = rows.iloc[:10]
    result.aggregates = fewer
    day = fewer["timestamp"].iloc[0].date()
    pd.testing.assert_frame_equal(result.aggregates_for(day), masked(fewer, day))


def test_a_result_without_rows_says_so():
    result = EtlResult(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="no aggregates"):
        result.aggregates_for(date(2024, 1, 1))


def test_rows_of_a_signal_the_target_lacks_are_refused_before_any_write():
    rows = aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=1))
    rows.loc[rows.index[5:9], "signal"] = "power_median"
    known = {name: i for i, name in enumerate(sorted(set(rows["signal"]) - {"power_median"}))}
    # Nothing listens on port 1: the check must fail before connecting.
    nowhere = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(TargetSchemaMissing, match=r"\['power_median'\]"):
        replace_window(nowhere, rows, start, start + timedelta(days=1), known)
