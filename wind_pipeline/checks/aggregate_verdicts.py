"""The verdicts of the aggregates' checks: pure functions from a run's rows to one outcome a day.

No Dagster run and no database: they take frames (`RunRows`) and return `Outcome`s, so they are
tested on hand-made frames. Each check is one pass over all days of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd

from wind_pipeline.checks.outcome import ERROR, WARN, Outcome
from wind_pipeline.checks.run_rows import (
    EXAMPLES,
    RELATIVE_TOLERANCE,
    RunRows,
    clock,
    examples,
    first_per_day,
    named,
    number,
    ordered,
)
from wind_pipeline.domain import (
    AGGREGATED_VARIABLES,
    BUCKET,
    BUCKETS_PER_DAY,
    MINUTES_PER_DAY,
    ROWS_PER_DAY,
    SIGNAL_NAMES,
)
from wind_pipeline.etl.coverage import DayCoverage, describe_ranges, slot_gaps
from wind_pipeline.etl.days import day_positions, day_start, epoch_ns

COMPLETE = "complete"
CONSISTENT = "consistent"
MATCHES_SOURCE = "matches_source"
SOURCE_COVERAGE = "source_coverage"

NS_PER_BUCKET = BUCKET // timedelta(microseconds=1) * 1000
_STD_CODES = [code for code, name in enumerate(SIGNAL_NAMES) if name.endswith("_std")]


def complete_outcomes(run: RunRows) -> list[Outcome]:
    """`complete` for each day of the run, in `run.days` order."""
    count = len(run.days)
    actual, compared = run.actual, run.compared
    rows = np.bincount(actual["day"], minlength=count)
    missing = ordered(compared[compared["_merge"] == "left_only"])
    unsupported = ordered(compared[(compared["_merge"] == "right_only") & ~compared["duplicate"]])
    duplicates = named(actual[actual["duplicate"]])
    missing_count = np.bincount(missing["day"], minlength=count)
    extra_count = np.bincount(unsupported["day"], minlength=count) + np.bincount(
        duplicates["day"], minlength=count
    )
    first_missing = first_per_day(missing)
    first_unsupported, first_duplicate = first_per_day(unsupported), first_per_day(duplicates)

    # A bucket is complete when it has all eight signals (a repeated row adds none).
    per_bucket = actual.loc[~actual["duplicate"], "timestamp"].value_counts(sort=False)
    full = pd.DatetimeIndex(per_bucket.index[per_bucket.to_numpy() == len(SIGNAL_NAMES)])
    full_days = day_positions(full, run.days)
    buckets_complete = np.bincount(full_days, minlength=count)
    # Days x buckets: an off-grid time counts as complete above, but fills no bucket here.
    stamps = epoch_ns(full)
    on_grid = stamps % NS_PER_BUCKET == 0
    grid = np.zeros((count, BUCKETS_PER_DAY), dtype=bool)
    grid[full_days[on_grid], (stamps[on_grid] // NS_PER_BUCKET) % BUCKETS_PER_DAY] = True
    whole = grid.all(axis=1)

    outcomes = []
    for i, day in enumerate(run.days):
        short = (
            ""
            if whole[i]
            else describe_ranges(slot_gaps(day_start(day), grid[i], BUCKET), limit=10)
        )
        n_rows, n_complete = int(rows[i]), int(buckets_complete[i])
        n_missing, n_extra = int(missing_count[i]), int(extra_count[i])
        metadata = {
            "rows": n_rows,
            "rows_in_a_full_day": ROWS_PER_DAY,
            "buckets_complete": n_complete,
            "incomplete_buckets": short or "none",
            "rows_missing_vs_source": n_missing,
            "rows_extra_vs_source": n_extra,
        }
        if n_missing or n_extra:
            problems = []
            if n_missing:
                shown = examples(first_missing.get(i, []), n_missing)
                problems.append(f"misses {n_missing} row(s) the Source has ({shown})")
            if n_extra:
                # Rows without a Source bucket first, then repeated rows, each in read order.
                extra = first_unsupported.get(i, []) + first_duplicate.get(i, [])
                problems.append(
                    f"holds {n_extra} row(s) the Source does not support "
                    f"({examples(extra, n_extra)})"
                )
            outcome = Outcome(
                False,
                f"{day}: the Target {' and '.join(problems)}; re-materialize {day}",
                ERROR,
                metadata,
            )
        elif n_complete < BUCKETS_PER_DAY:
            outcome = Outcome(
                False,
                f"{day}: {n_complete} of {BUCKETS_PER_DAY} buckets complete "
                f"({n_rows:,} of {ROWS_PER_DAY:,} rows); the Source has no usable data for "
                f"bucket(s) {short}",
                WARN,
                metadata,
            )
        else:
            outcome = Outcome(
                True,
                f"{day}: {BUCKETS_PER_DAY} buckets x {len(SIGNAL_NAMES)} signals = "
                f"{ROWS_PER_DAY:,} rows",
                metadata=metadata,
            )
        outcomes.append(outcome)
    return outcomes


def consistent_outcomes(run: RunRows) -> list[Outcome]:
    """`consistent` for each day of the run, in `run.days` order."""
    count = len(run.days)
    actual = run.actual
    rows = np.bincount(actual["day"], minlength=count)

    # The primary key forbids duplicates; a Target whose key was dropped may still hold some.
    duplicate = named(actual[actual["duplicate"]])
    unique = actual[~actual["duplicate"]]
    value, is_nan = unique["value"].to_numpy(), unique["is_nan"].to_numpy()
    is_std = np.isin(unique["code"].to_numpy(), _STD_CODES)
    nan = named(unique[is_nan])
    infinite = named(unique[np.isinf(value)])
    null = named(unique[np.isnan(value) & ~is_nan & ~is_std])

    # One wide table for all days: a row per time, a column per signal (NaN when absent or NaN).
    stamp_codes, stamps = pd.factorize(unique["timestamp"], sort=True)
    wide = np.full((len(stamps), len(SIGNAL_NAMES)), np.nan)
    wide[stamp_codes, unique["code"].to_numpy()] = value
    stamp_days = np.zeros(len(stamps), dtype=np.int64)
    stamp_days[stamp_codes] = unique["day"].to_numpy()

    # Problems in the order they are listed: per row, then per variable out of order, bad std.
    listed: list[tuple[str, pd.DataFrame, Callable[[tuple], str]]] = [
        ("duplicate", duplicate, lambda r: f"{r.signal} {clock(r.timestamp)} is stored twice"),
        ("nan", nan, lambda r: f"{r.signal} {clock(r.timestamp)} is NaN"),
        ("infinite", infinite, lambda r: f"{r.signal} {clock(r.timestamp)} is {r.value}"),
        ("null_statistic", null, lambda r: f"{r.signal} {clock(r.timestamp)} is NULL"),
    ]
    for variable in AGGREGATED_VARIABLES:
        mean, low, high, std = (
            wide[:, SIGNAL_NAMES.index(f"{variable}_{stat}")]
            for stat in ("mean", "min", "max", "std")
        )
        # A stored -inf mean plus its infinite tolerance is NaN and compares False; pandas
        # silences numpy's warning about it, so do the same.
        with np.errstate(invalid="ignore"):
            tolerance = RELATIVE_TOLERANCE * np.maximum(1.0, np.abs(mean))
            # Comparisons with a missing value are False: missing rows are `complete`'s business.
            bad_order = (low > mean + tolerance) | (mean > high + tolerance)
        bad_std = std < 0
        listed += [
            (
                "min_mean_max_order",
                pd.DataFrame(
                    {
                        "day": stamp_days[bad_order],
                        "timestamp": stamps[bad_order],
                        "low": low[bad_order],
                        "mean": mean[bad_order],
                        "high": high[bad_order],
                    }
                ),
                lambda r, v=variable: (
                    f"{v} {clock(r.timestamp)}: min {number(r.low)}, mean "
                    f"{number(r.mean)}, max {number(r.high)}"
                ),
            ),
            (
                "std",
                pd.DataFrame(
                    {"day": stamp_days[bad_std], "timestamp": stamps[bad_std], "std": std[bad_std]}
                ),
                lambda r, v=variable: f"{v}_std {clock(r.timestamp)} is {number(r.std)} < 0",
            ),
        ]

    counts = {kind: np.zeros(count, dtype=np.int64) for kind, _, _ in listed}
    first: list[dict[int, list[str]]] = []
    for kind, found, text in listed:
        counts[kind] += np.bincount(found["day"], minlength=count)
        first.append({i: [text(r) for r in part] for i, part in first_per_day(found).items()})

    outcomes = []
    for i, day in enumerate(run.days):
        violations = {kind: int(per_day[i]) for kind, per_day in counts.items()}
        metadata = {
            "rows_checked": int(rows[i]),
            **{f"violations_{k}": v for k, v in violations.items()},
        }
        total = sum(violations.values())
        if not total:
            outcomes.append(
                Outcome(
                    True,
                    f"{day}: {int(rows[i]):,} rows; min <= mean <= max, std >= 0 or NULL, "
                    "no NaN or infinity",
                    metadata=metadata,
                )
            )
            continue
        problems = [line for texts in first for line in texts.get(i, [])]
        shown = "; ".join(problems[:EXAMPLES])
        more = f" (+{total - EXAMPLES} more)" if total > EXAMPLES else ""
        outcomes.append(
            Outcome(False, f"{day}: {total} inconsistent value(s): {shown}{more}", ERROR, metadata)
        )
    return outcomes


def matches_source_outcomes(run: RunRows) -> list[Outcome]:
    """`matches_source` for each day of the run, in `run.days` order."""
    count = len(run.days)
    compared = run.compared
    both = compared[compared["_merge"] == "both"]
    source, target = both["value_source"].to_numpy(), both["value_target"].to_numpy()
    stored_nan = both["is_nan"].to_numpy()
    same_null = np.isnan(source) & np.isnan(target) & ~stored_nan
    close = np.isclose(source, target, rtol=RELATIVE_TOLERANCE, atol=RELATIVE_TOLERANCE)
    differ = ordered(both[~(same_null | (close & ~stored_nan))])
    values_compared = np.bincount(both["day"], minlength=count)
    values_differing = np.bincount(differ["day"], minlength=count)
    first_differing = first_per_day(differ)

    outcomes = []
    for i, day in enumerate(run.days):
        n_compared, n_differing = int(values_compared[i]), int(values_differing[i])
        metadata = {"values_compared": n_compared, "values_differing": n_differing}
        if not n_differing:
            outcomes.append(
                Outcome(
                    True,
                    f"{day}: all {n_compared:,} values equal the aggregation of the Source's "
                    "current rows",
                    metadata=metadata,
                )
            )
            continue
        shown = "; ".join(
            f"{r.signal} {clock(r.timestamp)}: Target "
            f"{'NaN' if r.is_nan else number(r.value_target)}, Source {number(r.value_source)}"
            for r in first_differing[i]
        )
        more = f" (+{n_differing - EXAMPLES} more)" if n_differing > EXAMPLES else ""
        outcomes.append(
            Outcome(
                False,
                f"{day}: {n_differing} value(s) differ from the Source's current rows: "
                f"{shown}{more}; re-materialize {day}",
                ERROR,
                metadata,
            )
        )
    return outcomes


def source_coverage_outcome(coverage: DayCoverage) -> Outcome:
    """WARN unless the Source day has every minute and the ETL skipped none of its values."""
    day = coverage.day
    metadata = {
        "minutes_present": coverage.minutes_present,
        "minutes_missing": coverage.minutes_missing,
        "percent_present": coverage.percent_present,
        "missing_ranges": describe_ranges(coverage.missing_ranges, limit=10) or "none",
        # The same counts as the materialization's `values/...` (one bad-value policy).
        "unusable_values": dict(coverage.unusable),
    }
    if coverage.fully_usable:
        return Outcome(
            True,
            f"{day}: {MINUTES_PER_DAY:,} of {MINUTES_PER_DAY:,} minutes present, every value usable",
            metadata=metadata,
        )
    problems = []
    if not coverage.complete:
        problems.append(
            f"{coverage.minutes_present:,} of {MINUTES_PER_DAY:,} minutes present "
            f"({coverage.percent_present}%), missing {describe_ranges(coverage.missing_ranges)}"
        )
    problems += [
        f"{count} {name} value(s) skipped (NULL, NaN, infinite or out of range)"
        for name, count in coverage.unusable.items()
        if count
    ]
    return Outcome(False, f"{day}: " + "; ".join(problems), WARN, metadata)


def source_coverage_outcomes(run: RunRows) -> list[Outcome]:
    """`source_coverage` for each day of the run, in `run.days` order."""
    return [source_coverage_outcome(coverage) for coverage in run.coverages]


EVALUATE: dict[str, Callable[[RunRows], list[Outcome]]] = {
    COMPLETE: complete_outcomes,
    CONSISTENT: consistent_outcomes,
    MATCHES_SOURCE: matches_source_outcomes,
    SOURCE_COVERAGE: source_coverage_outcomes,
}
