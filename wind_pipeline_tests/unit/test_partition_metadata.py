"""The per-partition preview and chart, on hand-made long rows (no database, no Dagster run)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from wind_pipeline.assets.partition_metadata import buckets_preview, partition_metadata
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.coverage import DayCoverage, mask_runs
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


def hand_made_day() -> pd.DataFrame:
    """Two buckets of the eight signals, values chosen by hand (00:10 has no power std)."""
    values = {
        "00:00": [5.0, 2.0, 9.0, 3.605551, 300.0, 100.0, 600.0, 264.575131],
        "00:10": [7.25, 7.0, 7.5, 0.353553, 1200.0, 1150.5, 1249.5, np.nan],
    }
    return pd.DataFrame(
        [
            (pd.Timestamp(f"2024-01-01T{hhmm}Z"), signal, value)
            for hhmm, row in values.items()
            for signal, value in zip(SIGNAL_NAMES, row, strict=True)
        ],
        columns=["timestamp", "signal", "value"],
    )


def test_partition_metadata_holds_the_hand_written_preview_and_a_chart_of_the_day():
    rows = hand_made_day()
    coverage = DayCoverage(
        day=DAY,
        minutes_present=1380,
        unusable={"wind_speed": 2, "power": 0},
        missing_ranges=(
            (datetime(2024, 1, 1, 10, tzinfo=UTC), datetime(2024, 1, 1, 10, 59, tzinfo=UTC)),
        ),
        fingerprint="abc123",
    )
    result = DayResult(
        DAY, source_rows=1380, rows_written=15, coverage=coverage, api_requests=1, api_bytes=99
    )
    metadata = partition_metadata(result, rows, table_rows=9, table_name="t")

    assert metadata["buckets_preview"].value == (
        "| bucket (UTC) | wind_speed_mean | wind_speed_min | wind_speed_max | wind_speed_std"
        " | power_mean | power_min | power_max | power_std |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        "| 00:00 | 5.000 | 2.000 | 9.000 | 3.606 | 300.000 | 100.000 | 600.000 | 264.575 |\n"
        "| 00:10 | 7.250 | 7.000 | 7.500 | 0.354 | 1200.000 | 1150.500 | 1249.500 | NULL |"
    )
    assert {
        key: metadata[key]
        for key in (
            "dagster/row_count",
            "dagster/partition_row_count",
            "dagster/table_name",
            "rows_written",
            "source_rows_read",
            "window_start",
            "window_end",
            "api_requests",
            "api_bytes",
            "source_minutes_present",
            "source_minutes_missing",
            "source_missing_ranges",
            "source_fingerprint",
        )
    } == {
        "dagster/row_count": 9,
        "dagster/partition_row_count": 15,
        "dagster/table_name": "t",
        "rows_written": 15,
        "source_rows_read": 1380,
        "window_start": "2024-01-01T00:00:00+00:00",
        "window_end": "2024-01-02T00:00:00+00:00",
        "api_requests": 1,
        "api_bytes": 99,
        "source_minutes_present": 1380,
        "source_minutes_missing": 60,
        "source_missing_ranges": "10:00-10:59",
        "source_fingerprint": "abc123",
    }
    assert metadata["source_unusable_values"].value == {"wind_speed": 2, "power": 0}

    chart = metadata["chart"].value
    assert chart.startswith(
        "![10-minute wind speed and power on 2024-01-01](data:image/svg+xml;base64,"
    )
    svg = svg_of(metadata)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "2024-01-01 (UTC): 10-minute mean" in svg
    # One line per panel through the two buckets' middles: x = 62 + (5 or 15) min * 680/1440 px.
    lines = [part.split('"')[0] for part in svg.split('<polyline points="')[1:]]
    assert [[point.split(",")[0] for point in line.split(" ")] for line in lines] == [
        ["64.4", "69.1"],
        ["64.4", "69.1"],
    ]
    assert 'class="empty"' not in svg and 'class="gap"' in svg, "the rest of the day is a gap"


def test_a_day_without_rows_has_an_empty_preview_and_a_chart_that_says_no_data():
    empty = hand_made_day().iloc[0:0]
    metadata = partition_metadata(DayResult(DAY, 0, 0), empty, table_rows=0, table_name="t")
    assert metadata["buckets_preview"].value == (
        "| bucket (UTC) | " + " | ".join(SIGNAL_NAMES) + " |\n" + "|---" * 9 + "|"
    )
    assert svg_of(metadata).count('class="empty">no data<') == 2
    assert "source_minutes_present" not in metadata, "no coverage, no coverage keys"
