"""The per-partition preview and chart, on hand-made long rows (no database, no Dagster run)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.assets.partition_metadata import buckets_preview, partition_metadata
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.coverage import mask_runs
from wind_pipeline.etl.pipeline import DayResult
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.plots import SignalGrid, _path_template, day_chart_svg
from wind_pipeline.source_data import generate_turbine_data

DAY = date(2024, 1, 1)


@pytest.fixture(scope="module")
def day_rows() -> pd.DataFrame:
    return aggregate_10min(generate_turbine_data(datetime(2024, 1, 1, tzinfo=UTC), days=1))


def pandas_pivot(rows: pd.DataFrame) -> pd.DataFrame:
    """The reference the grid replaces: pandas' pivot_table, reindexed to the eight signals."""
    wide = rows.pivot_table(index="timestamp", columns="signal", values="value", dropna=False)
    return wide.reindex(columns=list(SIGNAL_NAMES)).sort_index()


def odd_frames(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    nan = rows.copy()
    nan.loc[nan.index[::7], "value"] = np.nan
    off = rows.copy()
    off.loc[off.index[:50], "timestamp"] += pd.Timedelta(minutes=3)
    return {
        "as written": rows,
        "shuffled": rows.sample(frac=1, random_state=1),
        "NaN values": nan,
        # Repeated (timestamp, signal) rows average, NaN among them is skipped.
        "repeated rows": pd.concat(
            [rows, rows.iloc[:40].assign(value=rows["value"].iloc[:40] + 1.0)]
        ),
        "repeated NaN": pd.concat([rows, rows.iloc[:40].assign(value=np.nan)]),
        # A signal outside the eight adds its timestamps (as pivot_table does), not a column.
        "unknown signal": pd.concat(
            [
                rows,
                rows.iloc[:5].assign(
                    signal="temperature_mean",
                    timestamp=rows["timestamp"][:5] + pd.Timedelta(minutes=1),
                ),
            ]
        ),
        "off the bucket grid": off,
        "only power": rows[rows["signal"].str.startswith("power")],
        "nanosecond stamps": rows.assign(timestamp=rows["timestamp"].dt.as_unit("ns")),
        "empty": rows.iloc[0:0],
    }


def test_grid_is_the_pandas_pivot(day_rows: pd.DataFrame):
    for name, frame in odd_frames(day_rows).items():
        grid = SignalGrid.from_long(frame)
        expected = pandas_pivot(frame)
        assert list(grid.stamps) == list(expected.index), name
        np.testing.assert_array_equal(grid.values, expected.to_numpy(dtype="float64"), name)


def test_preview_pins_its_format():
    stamps = pd.date_range("2024-01-01", periods=8, freq="10min", tz="UTC")
    rows = pd.DataFrame(
        {
            "timestamp": np.repeat(stamps, 2),
            "signal": ["wind_speed_mean", "power_std"] * 8,
            "value": [1.23456, np.nan] + [float(i) for i in range(14)],
        }
    )
    lines = buckets_preview(rows, rows=2).split("\n")
    assert lines[0] == "| bucket (UTC) | " + " | ".join(SIGNAL_NAMES) + " |"
    assert lines[1] == "|" + "---|" * 9
    nulls = " | ".join(["NULL"] * 6)
    assert lines[2] == f"| 00:00 | 1.235 | {nulls} | NULL |"
    assert lines[3] == f"| 00:10 | 0.000 | {nulls} | 1.000 |"
    assert lines[4:] == ["", "... and 6 more buckets (8 in all)."]
    assert buckets_preview(rows, rows=8).count("\n") == 9, "no 'more' line when all are shown"


def test_runs_are_the_true_stretches():
    rng = np.random.default_rng(7)
    for mask in [np.zeros(5, bool), np.ones(5, bool), *(rng.random(40) < 0.6 for _ in range(50))]:
        expected, start = [], None
        for i, flag in enumerate([*mask.tolist(), False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                expected.append((start, i))
                start = None
        assert mask_runs(mask) == expected


def test_path_points_are_each_bucket_middle_and_value():
    xs = 62 + (np.arange(3, 6) * 10 + 5) * 680 / 1440
    ys = [10.04, 20.06, 30.0]
    assert _path_template(3, 6, False) % tuple(ys) == " ".join(
        f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True)
    )
    band = (_path_template(3, 6, True) % tuple(ys + ys)).split(" ")
    assert [p.split(",")[0] for p in band] == [f"{x:.1f}" for x in [*xs, *xs[::-1]]]


def svg_of(metadata: dict) -> str:
    chart = metadata["chart"].value
    return base64.b64decode(chart.split("base64,", 1)[1].rstrip(")")).decode()


def test_chart_breaks_at_a_gap_and_the_grid_and_rows_give_the_same_chart(day_rows):
    hour = day_rows["timestamp"].dt.hour
    gappy = day_rows[(hour != 10) & (hour != 23)]
    svg = day_chart_svg(DAY, gappy)
    assert svg == day_chart_svg(DAY, SignalGrid.from_long(gappy))
    assert svg.count('class="gap"') == 4, "a grey rect per gap per panel"
    assert svg.count("<polyline") == 4 and svg.count("<polygon") == 4
    # Rows of another day have no place on this day's chart.
    assert day_chart_svg(date(2024, 1, 2), day_rows).count('class="empty"') == 2


def test_partition_metadata_uses_one_grid_for_preview_and_chart(day_rows):
    result = DayResult(DAY, source_rows=1440, rows_written=len(day_rows))
    metadata = partition_metadata(result, day_rows, table_rows=9, table_name="t")
    assert metadata["buckets_preview"].value == buckets_preview(day_rows)
    assert svg_of(metadata) == day_chart_svg(DAY, day_rows)
    assert svg_of(metadata).count("<polyline") == 2
