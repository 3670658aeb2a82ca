"""A day's 10-minute aggregates as a small SVG chart, for the Dagster UI's metadata panel.

Hand-written SVG rather than matplotlib: two polylines and two polygons need no plotting
library, the markup is a few kilobytes, and it stays sharp at any zoom. The Dagster UI renders
it as an image inside `MetadataValue.md` (its markdown sanitizer allows `data:` image sources).
"""

from __future__ import annotations

import base64
import functools
import math
from dataclasses import dataclass
from datetime import date
from html import escape

import numpy as np
import pandas as pd

from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.etl.coverage import mask_runs

WIDTH, HEIGHT = 760, 430
LEFT, RIGHT, TOP, BOTTOM = 62, 18, 40, 30
PANEL_GAP = 34
MINUTES_PER_DAY = 1440
BUCKET_MINUTES = 10
X_OF = (WIDTH - LEFT - RIGHT) / MINUTES_PER_DAY  # pixels a minute
# Each bucket is drawn at its middle: the bucket labelled 00:00 covers [00:00, 00:10).
_BUCKET_X = LEFT + (np.arange(0, MINUTES_PER_DAY, BUCKET_MINUTES) + BUCKET_MINUTES / 2) * X_OF
_BUCKET_X_TEXT = tuple(f"{x:.1f}" for x in _BUCKET_X.tolist())


@dataclass(frozen=True)
class Panel:
    variable: str
    label: str
    unit: str
    line: str
    band: str


PANELS = (
    Panel("wind_speed", "Wind speed", "m/s", "#08519c", "#9ecae1"),
    Panel("power", "Power", "kW", "#a63603", "#fdae6b"),
)


# Built once: an Index builds its hash table on first lookup and keeps it.
_SIGNAL_COLUMNS = pd.Index(SIGNAL_NAMES)


@dataclass(frozen=True)
class SignalGrid:
    """Long rows (timestamp, signal, value) as a grid: one row a timestamp, one column a signal.

    What `pivot_table(index="timestamp", columns="signal", values="value", dropna=False)`
    gives, reindexed to the eight signals, but built with numpy: pivot_table costs milliseconds
    a call, and a backfill pivots every day of the run once for its preview and its chart.
    """

    stamps: pd.DatetimeIndex  # every timestamp of the rows, sorted, once
    values: np.ndarray  # (len(stamps), len(SIGNAL_NAMES)), NaN where a signal has no value

    @classmethod
    def from_long(cls, aggregates: pd.DataFrame) -> SignalGrid:
        stamps = pd.DatetimeIndex(aggregates["timestamp"].array)
        _, first, rows = np.unique(stamps.asi8, return_index=True, return_inverse=True)
        columns = _SIGNAL_COLUMNS.get_indexer(aggregates["signal"])
        values = aggregates["value"].to_numpy(dtype="float64", na_value=np.nan)
        known = (columns >= 0) & ~np.isnan(values)
        cells = rows[known] * len(SIGNAL_NAMES) + columns[known]
        size = len(first) * len(SIGNAL_NAMES)
        # A sum and a count per cell, so repeated (timestamp, signal) rows average and NaN
        # is skipped, as pivot_table's mean does; a cell without a value stays NaN.
        sums = np.bincount(cells, weights=values[known], minlength=size)
        counts = np.bincount(cells, minlength=size)
        grid = np.full(size, np.nan)
        np.divide(sums, counts, out=grid, where=counts > 0)
        return cls(stamps.take(first), grid.reshape(len(first), len(SIGNAL_NAMES)))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 x 10^k) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    n = int(round((last - first) / step))
    return [round(first + i * step, 10) for i in range(n + 1)]


@functools.lru_cache(maxsize=256)
def _path_template(start: int, end: int, closed: bool) -> str:
    """`x,%.1f` for the buckets [start, end), then back again if `closed` (a band's outline).

    Every day draws its buckets at the same x's, so their text is made once; a day's points
    are then one %-format of its y's, in one C call, rather than a format call a point.
    """
    xs = _BUCKET_X_TEXT[start:end]
    return " ".join(f"{x},%.1f" for x in (xs + xs[::-1] if closed else xs))


def _format_tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def _panel_svg(panel: Panel, stats: np.ndarray, y0: float, height: float) -> list[str]:
    """`stats` holds one row a bucket of the day (144): mean, min, max."""
    parts = [
        f'<text x="{LEFT}" y="{y0 - 8:.1f}" class="label">{escape(panel.label)} ({panel.unit})</text>'
    ]
    present = ~np.isnan(stats).any(axis=1)
    if not present.any():
        parts.append(
            f'<text x="{WIDTH / 2:.1f}" y="{y0 + height / 2:.1f}" class="empty">no data</text>'
        )
        return parts
    means, lows, highs = stats[:, 0], stats[:, 1], stats[:, 2]
    finite = np.isfinite(lows) & np.isfinite(highs)
    ticks = nice_ticks(float(lows[finite].min()), float(highs[finite].max()))
    y_low, y_high = ticks[0], ticks[-1]

    def y_of(values: np.ndarray) -> np.ndarray:
        clipped = values.clip(y_low, y_high)
        return y0 + height - (clipped - y_low) / (y_high - y_low) * height

    # Buckets without data are shaded grey, so a gap reads as missing data, not as a dip.
    for start, end in mask_runs(~present):
        x_start = LEFT + start * BUCKET_MINUTES * X_OF
        width = (end - start) * BUCKET_MINUTES * X_OF
        parts.append(
            f'<rect x="{x_start:.1f}" y="{y0:.1f}" width="{width:.1f}" height="{height:.1f}" class="gap"/>'
        )
    for tick, y in zip(ticks, y_of(np.array(ticks)).tolist(), strict=True):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ytick">{_format_tick(tick)}</text>'
        )

    y_means, y_lows, y_highs = y_of(stats).T
    for start, end in mask_runs(present & finite & np.isfinite(means)):
        sl = slice(start, end)
        band = _path_template(start, end, True) % tuple(
            np.concatenate([y_highs[sl], y_lows[sl][::-1]]).tolist()
        )
        line = _path_template(start, end, False) % tuple(y_means[sl].tolist())
        parts.append(f'<polygon points="{band}" fill="{panel.band}" fill-opacity="0.55"/>')
        parts.append(
            f'<polyline points="{line}" fill="none" '
            f'stroke="{panel.line}" stroke-width="1.6" stroke-linejoin="round"/>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{y0:.1f}" width="{WIDTH - LEFT - RIGHT}" height="{height:.1f}" class="frame"/>'
    )
    return parts


def _day_buckets(day: date, grid: SignalGrid) -> np.ndarray:
    """The grid's rows on the day's 144 bucket starts (NaN rows for buckets it lacks)."""
    # numpy datetimes (UTC, the index's own unit) and timedeltas convert units by themselves.
    offsets = grid.stamps.asi8.view(f"M8[{grid.stamps.unit}]") - np.datetime64(day, "D")
    bucket, zero = np.timedelta64(BUCKET_MINUTES, "m"), np.timedelta64(0, "m")
    # Only stamps exactly on a bucket start of this day are drawn; others have no place.
    on_day = (offsets >= zero) & (offsets < bucket * len(_BUCKET_X)) & (offsets % bucket == zero)
    wide = np.full((len(_BUCKET_X), len(SIGNAL_NAMES)), np.nan)
    wide[offsets[on_day] // bucket] = grid.values[on_day]
    return wide


def day_chart_svg(day: date, aggregates: pd.DataFrame | SignalGrid) -> str:
    """Mean wind speed and power per 10-minute bucket, with the min..max band, for one day.

    `aggregates` holds the day's long rows (timestamp, signal, value), or the same rows as a
    `SignalGrid`. Buckets without data leave a gap rather than a line drawn across it.
    """
    grid = aggregates if isinstance(aggregates, SignalGrid) else SignalGrid.from_long(aggregates)
    wide = _day_buckets(day, grid)

    panel_height = (HEIGHT - TOP - BOTTOM - PANEL_GAP) / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">',
        "<style>.label{font-size:12px;font-weight:bold;fill:#333}"
        ".ytick{font-size:11px;fill:#555;text-anchor:end}"
        ".xtick{font-size:11px;fill:#555;text-anchor:middle}"
        ".empty{font-size:13px;fill:#999;text-anchor:middle}"
        ".title{font-size:13px;fill:#222}.grid{stroke:#e3e3e3;stroke-width:1}"
        ".frame{fill:none;stroke:#bbb;stroke-width:1}.gap{fill:#efefef}</style>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{LEFT}" y="16" class="title">{day.isoformat()} (UTC): 10-minute mean, '
        "shaded band from min to max; grey: no data</text>",
    ]
    for i, panel in enumerate(PANELS):
        y0 = TOP + 12 + i * (panel_height + PANEL_GAP)
        stats = [SIGNAL_NAMES.index(f"{panel.variable}_{s}") for s in ("mean", "min", "max")]
        parts += _panel_svg(panel, wide[:, stats], y0, panel_height - 12)
    for hour in range(0, 25, 3):
        x = LEFT + hour * 60 * X_OF
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 10}" class="xtick">{hour:02d}:00</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_markdown(svg: str, alt: str) -> str:
    """Markdown showing the SVG as an image (a base64 data URI: no file, no server)."""
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{escape(alt)}](data:image/svg+xml;base64,{encoded})"
