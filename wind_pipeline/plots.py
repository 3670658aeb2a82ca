"""A day's 10-minute aggregates as a small SVG chart, for the Dagster UI's metadata panel.

Hand-written SVG rather than matplotlib: two polylines and two polygons need no plotting
library, the markup is a few kilobytes, and it stays sharp at any zoom. The Dagster UI renders
it as an image inside `MetadataValue.md` (its markdown sanitizer allows `data:` image sources).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import date
from html import escape

import numpy as np
import pandas as pd

WIDTH, HEIGHT = 760, 430
LEFT, RIGHT, TOP, BOTTOM = 62, 18, 40, 30
PANEL_GAP = 34
MINUTES_PER_DAY = 1440
BUCKET_MINUTES = 10


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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where `mask` is true: a gap in the data breaks the line."""
    runs, start = [], None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _format_tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def _panel_svg(panel: Panel, stats: pd.DataFrame, y0: float, height: float) -> list[str]:
    x_of = (WIDTH - LEFT - RIGHT) / MINUTES_PER_DAY
    parts = [
        f'<text x="{LEFT}" y="{y0 - 8:.1f}" class="label">{escape(panel.label)} ({panel.unit})</text>'
    ]
    columns = [f"{panel.variable}_{s}" for s in ("mean", "min", "max")]
    present = stats[columns].notna().all(axis=1).to_numpy()
    if not present.any():
        parts.append(
            f'<text x="{WIDTH / 2:.1f}" y="{y0 + height / 2:.1f}" class="empty">no data</text>'
        )
        return parts
    lows, highs = stats[columns[1]].to_numpy(), stats[columns[2]].to_numpy()
    finite = np.isfinite(lows) & np.isfinite(highs)
    ticks = nice_ticks(float(np.min(lows[finite])), float(np.max(highs[finite])))
    y_low, y_high = ticks[0], ticks[-1]

    def y_of(values: np.ndarray) -> np.ndarray:
        clipped = np.clip(values, y_low, y_high)
        return y0 + height - (clipped - y_low) / (y_high - y_low) * height

    # Buckets without data are shaded grey, so a gap reads as missing data, not as a dip.
    for start, end in _runs(~present):
        x_start = LEFT + stats.index[start] * x_of
        width = (end - start) * BUCKET_MINUTES * x_of
        parts.append(
            f'<rect x="{x_start:.1f}" y="{y0:.1f}" width="{width:.1f}" height="{height:.1f}" class="gap"/>'
        )
    for tick in ticks:
        y = float(y_of(np.array([tick]))[0])
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ytick">{_format_tick(tick)}</text>'
        )

    # Each bucket is drawn at its middle: the bucket labelled 00:00 covers [00:00, 00:10).
    minutes = stats.index.to_numpy()
    xs = LEFT + (minutes + BUCKET_MINUTES / 2) * x_of
    means = stats[columns[0]].to_numpy()
    for start, end in _runs(present & finite & np.isfinite(means)):
        sl = slice(start, end)
        band = _points(
            np.concatenate([xs[sl], xs[sl][::-1]]),
            np.concatenate([y_of(highs[sl]), y_of(lows[sl])[::-1]]),
        )
        parts.append(f'<polygon points="{band}" fill="{panel.band}" fill-opacity="0.55"/>')
        parts.append(
            f'<polyline points="{_points(xs[sl], y_of(means[sl]))}" fill="none" '
            f'stroke="{panel.line}" stroke-width="1.6" stroke-linejoin="round"/>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{y0:.1f}" width="{WIDTH - LEFT - RIGHT}" height="{height:.1f}" class="frame"/>'
    )
    return parts


def day_chart_svg(day: date, aggregates: pd.DataFrame) -> str:
    """Mean wind speed and power per 10-minute bucket, with the min..max band, for one day.

    `aggregates` holds the day's long rows (timestamp, signal, value). Buckets without data
    leave a gap rather than a line drawn across it.
    """
    wide = aggregates.pivot_table(index="timestamp", columns="signal", values="value", dropna=False)
    midnight = pd.Timestamp(day.isoformat(), tz="UTC")
    buckets = pd.date_range(midnight, periods=MINUTES_PER_DAY // BUCKET_MINUTES, freq="10min")
    wide = wide.reindex(buckets)
    wide.index = ((wide.index - midnight) // pd.Timedelta(minutes=1)).astype(int)
    for panel in PANELS:
        for stat in ("mean", "min", "max"):
            wide[f"{panel.variable}_{stat}"] = wide.get(f"{panel.variable}_{stat}", np.nan)

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
        parts += _panel_svg(panel, wide, y0, panel_height - 12)
    x_of = (WIDTH - LEFT - RIGHT) / MINUTES_PER_DAY
    for hour in range(0, 25, 3):
        x = LEFT + hour * 60 * x_of
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 10}" class="xtick">{hour:02d}:00</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_markdown(svg: str, alt: str) -> str:
    """Markdown showing the SVG as an image (a base64 data URI: no file, no server)."""
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{escape(alt)}](data:image/svg+xml;base64,{encoded})"
