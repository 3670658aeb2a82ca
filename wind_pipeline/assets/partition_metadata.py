"""The metadata each partition of `wind_10min_aggregates` carries in the Dagster UI."""

from __future__ import annotations

import math
from typing import Any

import dagster as dg
import pandas as pd

from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.coverage import describe_ranges
from wind_pipeline.etl.days import day_start
from wind_pipeline.etl.pipeline import DayResult
from wind_pipeline.plots import SignalGrid, day_chart_svg, svg_markdown

PREVIEW_BUCKETS = 6


def _cell(value: float) -> str:
    return "NULL" if math.isnan(value) else f"{value:.3f}"


def buckets_preview(aggregates: pd.DataFrame | SignalGrid, rows: int = PREVIEW_BUCKETS) -> str:
    """A markdown table of the day's first buckets: one row a bucket, one column a signal."""
    grid = aggregates if isinstance(aggregates, SignalGrid) else SignalGrid.from_long(aggregates)
    header = "| bucket (UTC) | " + " | ".join(SIGNAL_NAMES) + " |"
    lines = [header, "|" + "---|" * (len(SIGNAL_NAMES) + 1)]
    # Only the first `rows` buckets are formatted: a few dozen cells whatever the day holds.
    stamps = grid.stamps[:rows].strftime("%H:%M")
    for stamp, values in zip(stamps, grid.values[:rows].tolist(), strict=True):
        lines.append(f"| {stamp} | " + " | ".join(_cell(v) for v in values) + " |")
    total = len(grid.stamps)
    if total > rows:
        lines.append(f"\n... and {total - rows} more buckets ({total} in all).")
    return "\n".join(lines)


def partition_metadata(
    result: DayResult, aggregates: pd.DataFrame, table_rows: int, table_name: str
) -> dict[str, Any]:
    """Row counts, source coverage, the window, the API call's cost, a preview and a chart."""
    start = day_start(result.day)
    end = start + pd.Timedelta(days=1)
    coverage = result.coverage
    # One pivot of the day's rows, shared by the preview and the chart.
    grid = SignalGrid.from_long(aggregates)
    metadata: dict[str, Any] = {
        # Dagster's table conventions: the whole table's rows, and this partition's rows.
        "dagster/row_count": table_rows,
        "dagster/partition_row_count": result.rows_written,
        "dagster/table_name": table_name,
        "rows_written": result.rows_written,
        "source_rows_read": result.source_rows,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "api_requests": result.api_requests,
        "api_call_days": result.api_call_days,
        "api_seconds": dg.MetadataValue.float(round(result.api_seconds, 4)),
        "api_bytes": result.api_bytes,
        "buckets_preview": dg.MetadataValue.md(buckets_preview(grid)),
        "chart": dg.MetadataValue.md(
            svg_markdown(
                day_chart_svg(result.day, grid),
                f"10-minute wind speed and power on {result.day}",
            )
        ),
    }
    if coverage is not None:
        metadata |= {
            "source_minutes_present": coverage.minutes_present,
            "source_minutes_missing": coverage.minutes_missing,
            "source_missing_ranges": describe_ranges(coverage.missing_ranges) or "none",
            "source_unusable_values": dg.MetadataValue.json(coverage.unusable),
            # The late-data sensor compares this with the Source's current rows.
            "source_fingerprint": coverage.fingerprint,
        }
    if result.quality is not None:
        # The bad-value policy's counts: NULL/NaN (missing), infinite, out of range.
        metadata |= {f"values/{key}": n for key, n in result.quality.as_metadata().items()}
    return metadata
