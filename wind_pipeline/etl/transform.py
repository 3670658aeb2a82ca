"""Transform: one-minute rows to 10-minute mean/min/max/std per variable, vectorised with pandas.

Semantics (docs/architecture.md, "Aggregation semantics"): buckets are closed on the left and labelled by their
start; NULL source values are skipped; std is the sample std (ddof=1), NULL for a bucket
with one sample; a bucket with no value for a variable produces no rows for it.

Bad values (docs/RELIABILITY.md, "Bad source values"): a value that is NaN, +/-infinity or
outside the variable's plausible range is **skipped**, exactly like a NULL, and counted.
Skipping keeps the day's good minutes (rejecting the day would lose them to one glitching
sensor reading) and invents nothing (clipping would turn a broken reading into a plausible
one). The counts go to the asset's metadata so a bad day is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wind_pipeline.domain import AGGREGATED_VARIABLES, BUCKET, PLAUSIBLE_RANGES, STATISTICS

# Why a value was skipped; `missing` is NULL or NaN (the API's JSON cannot tell them apart).
SKIP_REASONS = ("missing", "infinite", "below_range", "above_range")


@dataclass(frozen=True)
class QualityCounts:
    """How many source values of each variable were used, and how many were skipped and why."""

    rows: int
    used: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, *reasons: str) -> int:
        """Skipped values of all variables for the given reasons (all reasons if none given)."""
        wanted = reasons or SKIP_REASONS
        return sum(counts[r] for counts in self.skipped.values() for r in wanted)

    @property
    def invalid(self) -> int:
        """Values the policy removed: infinite or out of range (NULL/NaN are just missing)."""
        return self.total("infinite", "below_range", "above_range")

    def as_metadata(self) -> dict[str, int]:
        """Flat integer counts, e.g. `power_above_range`, for Dagster metadata."""
        flat = {
            "source_rows": self.rows,
            "values_missing": self.total("missing"),
            "values_invalid": self.invalid,
        }
        for variable, reasons in self.skipped.items():
            flat[f"{variable}_used"] = self.used[variable]
            flat.update({f"{variable}_{reason}": n for reason, n in reasons.items()})
        return flat


def classify_values(values: np.ndarray, variable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bad-value policy's masks of a variable's values: (finite, below range, above range).

    A value is used when it is finite and in range; everything else is skipped.
    """
    finite = np.isfinite(values)
    bounds = PLAUSIBLE_RANGES.get(variable)
    below = finite & (values < bounds.low) if bounds else np.zeros_like(finite)
    above = finite & (values > bounds.high) if bounds else np.zeros_like(finite)
    return finite, below, above


def clean_values(
    frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> tuple[pd.DataFrame, QualityCounts]:
    """Return a copy of `frame` whose bad values are NaN (skipped), and the counts per reason."""
    one_group = np.zeros(len(frame), dtype=np.intp)
    cleaned, (counts,) = clean_values_grouped(frame, one_group, 1, variables)
    return cleaned, counts


def clean_values_grouped(
    frame: pd.DataFrame,
    groups: np.ndarray,
    group_count: int,
    variables: Sequence[str] = AGGREGATED_VARIABLES,
) -> tuple[pd.DataFrame, list[QualityCounts]]:
    """`clean_values` over rows of several groups at once (e.g. the days of a run), counted
    per group: `groups` holds each row's group, 0 .. group_count - 1.

    One pass over the whole frame instead of a copy and a count a day.
    """
    cleaned = frame.copy()
    rows = np.bincount(groups, minlength=group_count)
    used: dict[str, np.ndarray] = {}
    skipped: dict[str, dict[str, np.ndarray]] = {}

    def per_group(mask: np.ndarray) -> np.ndarray:
        return np.bincount(groups[mask], minlength=group_count)

    for variable in variables:
        values = pd.Series(frame[variable]).to_numpy(dtype="float64", na_value=np.nan)
        finite, below, above = classify_values(values, variable)
        keep = finite & ~below & ~above
        cleaned[variable] = np.where(keep, values, np.nan)
        used[variable] = per_group(keep)
        skipped[variable] = {
            "missing": per_group(np.isnan(values)),
            "infinite": per_group(np.isinf(values)),
            "below_range": per_group(below),
            "above_range": per_group(above),
        }
    counts = [
        QualityCounts(
            rows=int(rows[g]),
            used={variable: int(n[g]) for variable, n in used.items()},
            skipped={
                variable: {reason: int(n[g]) for reason, n in reasons.items()}
                for variable, reasons in skipped.items()
            },
        )
        for g in range(group_count)
    ]
    return cleaned, counts


def aggregate_10min_with_quality(
    frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> tuple[pd.DataFrame, QualityCounts]:
    """Apply the bad-value policy, then aggregate; return (aggregates, quality counts)."""
    cleaned, counts = clean_values(frame, variables)
    return aggregate_cleaned(cleaned, variables), counts


def aggregate_10min(
    frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> pd.DataFrame:
    """Return long rows (timestamp, signal, value), signal being e.g. `power_std`.

    Bad values (NaN, +/-inf, out of range) are skipped like NULLs; see `clean_values`.
    """
    aggregates, _ = aggregate_10min_with_quality(frame, variables)
    return aggregates


def aggregate_cleaned(
    frame: pd.DataFrame, variables: Sequence[str] = AGGREGATED_VARIABLES
) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(
            {
                "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                "signal": pd.Series(dtype="object"),
                "value": pd.Series(dtype="float64"),
            }
        )
    values = frame.set_index("timestamp")[list(variables)]
    stats = values.groupby(values.index.floor(BUCKET)).agg(["count", *STATISTICS])
    buckets = stats.index
    # Long rows (one a bucket, variable and statistic), ordered variable by variable and
    # statistic by statistic, built by indexing: a melt per variable cost as much as the
    # aggregation itself. Buckets where a variable has no value give it no rows.
    names = pd.Index([f"{v}_{stat}" for v in variables for stat in STATISTICS], dtype="str")
    positions, codes, numbers = [], [], []
    for i, variable in enumerate(variables):
        present = np.flatnonzero(stats[(variable, "count")].to_numpy() > 0)
        for j, stat in enumerate(STATISTICS):
            positions.append(present)
            codes.append(np.full(len(present), i * len(STATISTICS) + j))
            numbers.append(stats[(variable, stat)].to_numpy()[present])
    return pd.DataFrame(
        {
            "timestamp": buckets.take(np.concatenate(positions)),
            "signal": names.take(np.concatenate(codes)),
            "value": np.concatenate(numbers),
        }
    )
