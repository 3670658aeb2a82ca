"""Checks of `wind_10min_aggregates`: one verdict per check per day (partition).

They read the day's rows from the Target, and the day's Source rows through the Conektor API
(many days per paged call), so a check run on its own later also notices a tampered Target or
a Source that changed since the day was aggregated. Right after the asset step of the same run
(same process), they take the Source rows that step read instead (`etl/run_memo.py`).

Blocking or not (a failed blocking check with ERROR severity fails the run and stops assets
downstream of it in the same run):

- `complete`: blocking. The Target missing rows the Source supports, or holding rows it does
  not, is lost or stale data. A day that is short because the *Source* has gaps is by design
  (partial days are aggregated from what is there), so that is a WARN, which never blocks.
- `consistent`: blocking. min <= mean <= max, std >= 0 or NULL, and no NaN or infinity are
  true of any correct aggregate; a violation means corrupt numbers nobody should build on.
- `matches_source`: blocking. Values that differ from the aggregation of the Source's current
  rows are wrong (tampered) or stale (the Source changed; the late-data sensor re-runs the day).
- `source_coverage`: not blocking, WARN. It describes the Source, not our output; a partial
  Source day is aggregated by design, and the WARN makes it visible.
"""

import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import dagster as dg
import numpy as np
import pandas as pd
from sqlalchemy import Double, Engine, cast, func, select

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.checks.outcome import ERROR, WARN, Outcome, report
from wind_pipeline.etl import run_memo
from wind_pipeline.etl.coverage import (
    DayCoverage,
    day_positions,
    day_start,
    describe_ranges,
    epoch_ns,
    fetch_rows,
    profile_days,
    slot_gaps,
)
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.partitions import daily_partitions
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline.target_models import AGGREGATED_VARIABLES, SIGNAL_NAMES, Data, Signal

BUCKETS_PER_DAY = 144
ROWS_PER_DAY = BUCKETS_PER_DAY * len(SIGNAL_NAMES)
BUCKET = pd.Timedelta(minutes=10)
NS_PER_BUCKET = BUCKET.value
# Values are written as text by COPY and read back as double: equal to the last bit in
# practice; the tolerance only absorbs rounding in a mean recomputed by the check.
RELATIVE_TOLERANCE = 1e-9
EXAMPLES = 5

COMPLETE = "complete"
CONSISTENT = "consistent"
MATCHES_SOURCE = "matches_source"
SOURCE_COVERAGE = "source_coverage"

_ASSET = wind_10min_aggregates.key
_SIGNALS = pd.CategoricalDtype(list(SIGNAL_NAMES))
_SIGNAL_NAMES = np.array(SIGNAL_NAMES, dtype=object)
_STD_CODES = [code for code, name in enumerate(SIGNAL_NAMES) if name.endswith("_std")]
_STEP = timedelta(minutes=10)

with warnings.catch_warnings():
    # Partitioned checks are a Dagster preview feature: chosen so each day gets its own verdict.
    warnings.simplefilter("ignore", category=dg.PreviewWarning)
    SPECS = {
        COMPLETE: dg.AssetCheckSpec(
            COMPLETE,
            asset=_ASSET,
            partitions_def=daily_partitions,
            blocking=True,
            description=(
                "Every 10-minute bucket the Source supports has its four statistics for both "
                "variables: 144 buckets x 8 signals = 1,152 rows when the Source day has all "
                "1,440 minutes. ERROR when the Target misses rows the Source has, or holds rows "
                "it does not; WARN naming the buckets when the Source itself has gaps."
            ),
        ),
        CONSISTENT: dg.AssetCheckSpec(
            CONSISTENT,
            asset=_ASSET,
            partitions_def=daily_partitions,
            blocking=True,
            description=(
                "For each bucket and variable: min <= mean <= max, std >= 0 or NULL (one "
                "sample), mean/min/max never NULL, and no NaN or infinity stored."
            ),
        ),
        MATCHES_SOURCE: dg.AssetCheckSpec(
            MATCHES_SOURCE,
            asset=_ASSET,
            partitions_def=daily_partitions,
            blocking=True,
            description=(
                "Every stored value equals the aggregation of the Source's current rows for the "
                "day (catches a tampered Target, and a Source that changed since the run)."
            ),
        ),
        SOURCE_COVERAGE: dg.AssetCheckSpec(
            SOURCE_COVERAGE,
            asset=_ASSET,
            partitions_def=daily_partitions,
            blocking=False,
            description=(
                "Minutes the Source holds for the day out of 1,440, and values that are NULL, "
                "NaN or infinite. WARN below 100%: the day is aggregated from what is there."
            ),
        ),
    }


def _clock(stamp: pd.Timestamp) -> str:
    return f"{stamp:%H:%M}"


def _examples(first: Sequence, total: int) -> str:
    """`first` (a day's first few rows of `total`) as `power_std 13:00, ...` then `(+N more)`."""
    shown = ", ".join(f"{r.signal} {_clock(r.timestamp)}" for r in first[:EXAMPLES])
    return shown + (f" (+{total - EXAMPLES} more)" if total > EXAMPLES else "")


def _number(value: float) -> str:
    if pd.isna(value):
        return "NULL"
    return f"{value:.6g}"


# -- reading -------------------------------------------------------------------------------
def read_target_days(engine: Engine, days: Sequence[date]) -> pd.DataFrame:
    """The eight signals' rows from the first to the last day: signal, timestamp, value, is_nan.

    `is_nan` tells a stored NaN from a NULL, which pandas would both show as NaN. Read with
    COPY ... TO STDOUT and pandas' C parser: a year of rows in a fraction of a second.
    """
    start, end = day_start(min(days)), day_start(max(days) + timedelta(days=1))
    statement = (
        select(
            Signal.name.label("signal"),
            func.extract("epoch", Data.timestamp).label("epoch"),
            Data.value,
            (Data.value == cast("NaN", Double)).label("is_nan"),
        )
        .join(Signal, Signal.id == Data.signal_id)
        .where(Signal.name.in_(SIGNAL_NAMES), Data.timestamp >= start, Data.timestamp < end)
        .order_by(Data.timestamp, Signal.name)
    )
    buffer = io.BytesIO()
    with engine.connect() as conn:
        compiled = statement.compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        cursor = conn.connection.dbapi_connection.cursor()
        # The driver binds the parameters (mogrify), as it does for any query.
        query = cursor.mogrify(str(compiled), compiled.params).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        names=["signal", "epoch", "value", "is_nan"],
        dtype={"signal": "object", "epoch": "float64", "value": "float64", "is_nan": "object"},
    )
    timestamps = pd.to_datetime(frame.pop("epoch"), unit="s", utc=True).dt.as_unit("ns")
    frame.insert(1, "timestamp", timestamps)
    frame["is_nan"] = frame["is_nan"].eq("t")
    return frame


def expected_rows(source: pd.DataFrame) -> pd.DataFrame:
    """What the ETL writes for these Source rows (the production transform, not a copy)."""
    expected = aggregate_10min(source)
    expected["timestamp"] = pd.to_datetime(expected["timestamp"], utc=True).dt.as_unit("ns")
    return expected


def _label(frame: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """The rows of the run's days, with their day's position in `days` and their signal's code.

    The code (position in SIGNAL_NAMES) joins and groups far faster than the signal's name;
    both frames hold only the eight signals (the query selects them, the transform writes them).
    """
    positions = day_positions(frame["timestamp"], days)
    inside = positions >= 0
    labelled = frame.loc[inside].reset_index(drop=True)
    labelled["day"] = positions[inside]
    labelled["code"] = pd.Categorical(labelled["signal"], dtype=_SIGNALS).codes
    return labelled


def _named(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(signal=_SIGNAL_NAMES[rows["code"].to_numpy()])


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with their signal's name, in the order a person reads them: by time, then signal."""
    return _named(rows).sort_values(["timestamp", "signal"])


def _first_per_day(rows: pd.DataFrame, limit: int = EXAMPLES) -> dict[int, list]:
    """The first `limit` rows of each day (by position), as named tuples, in `rows`' order."""
    first: dict[int, list] = {}
    for row in rows.groupby("day", sort=False).head(limit).itertuples(index=False):
        first.setdefault(int(row.day), []).append(row)
    return first


@dataclass(frozen=True, eq=False)
class RunRows:
    """A run's rows, all days in one frame each, so every check is one vectorised pass.

    `expected` (what the ETL writes for the Source's rows) and `actual` (the Target's rows) carry
    `day`, the row's position in `days`, and `code`, its signal's position in SIGNAL_NAMES;
    `actual` also marks a row that repeats an earlier one (`duplicate`).
    """

    days: tuple[date, ...]
    source: pd.DataFrame
    expected: pd.DataFrame
    actual: pd.DataFrame

    @classmethod
    def of(cls, days: Sequence[date], source: pd.DataFrame, target: pd.DataFrame) -> "RunRows":
        """From distinct `days`, their Source rows (as `fetch_rows` gives them) and Target rows."""
        days = tuple(days)
        actual = _label(target, days)
        actual["duplicate"] = actual.duplicated(["timestamp", "code"]).to_numpy()
        return cls(days, source, _label(expected_rows(source), days), actual)

    @cached_property
    def compared(self) -> pd.DataFrame:
        """Expected rows outer-joined with the Target's on (timestamp, signal); see `_merge`."""
        merged = self.expected[["timestamp", "code", "value"]].merge(
            self.actual[["timestamp", "code", "value", "is_nan", "duplicate"]],
            on=["timestamp", "code"],
            how="outer",
            suffixes=("_source", "_target"),
            indicator=True,
        )
        merged["day"] = day_positions(merged["timestamp"], self.days)
        # Rows only the Source has have no Target flags: neither NaN nor repeated.
        merged["is_nan"] = merged["is_nan"].eq(True)
        merged["duplicate"] = merged["duplicate"].eq(True)
        return merged


# -- the checks, each one pass over all days of a run ---------------------------------------
def complete_outcomes(run: RunRows) -> list[Outcome]:
    """`complete` for each day of the run, in `run.days` order."""
    count = len(run.days)
    actual, compared = run.actual, run.compared
    rows = np.bincount(actual["day"], minlength=count)
    missing = _ordered(compared[compared["_merge"] == "left_only"])
    unsupported = _ordered(compared[(compared["_merge"] == "right_only") & ~compared["duplicate"]])
    duplicates = _named(actual[actual["duplicate"]])
    missing_count = np.bincount(missing["day"], minlength=count)
    extra_count = np.bincount(unsupported["day"], minlength=count) + np.bincount(
        duplicates["day"], minlength=count
    )
    first_missing = _first_per_day(missing)
    first_unsupported, first_duplicate = _first_per_day(unsupported), _first_per_day(duplicates)

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
            "" if whole[i] else describe_ranges(slot_gaps(day_start(day), grid[i], _STEP), limit=10)
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
                examples = _examples(first_missing.get(i, []), n_missing)
                problems.append(f"misses {n_missing} row(s) the Source has ({examples})")
            if n_extra:
                # Rows without a Source bucket first, then repeated rows, each in read order.
                extra = first_unsupported.get(i, []) + first_duplicate.get(i, [])
                problems.append(
                    f"holds {n_extra} row(s) the Source does not support "
                    f"({_examples(extra, n_extra)})"
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
    duplicate = _named(actual[actual["duplicate"]])
    unique = actual[~actual["duplicate"]]
    value, is_nan = unique["value"].to_numpy(), unique["is_nan"].to_numpy()
    is_std = np.isin(unique["code"].to_numpy(), _STD_CODES)
    nan = _named(unique[is_nan])
    infinite = _named(unique[np.isinf(value)])
    null = _named(unique[np.isnan(value) & ~is_nan & ~is_std])

    # One wide table for all days: a row per time, a column per signal (NaN when absent or NaN).
    stamp_codes, stamps = pd.factorize(unique["timestamp"], sort=True)
    wide = np.full((len(stamps), len(SIGNAL_NAMES)), np.nan)
    wide[stamp_codes, unique["code"].to_numpy()] = value
    stamp_days = np.zeros(len(stamps), dtype=np.int64)
    stamp_days[stamp_codes] = unique["day"].to_numpy()

    # Problems in the order they are listed: per row, then per variable out of order, bad std.
    listed: list[tuple[str, pd.DataFrame, Callable[[tuple], str]]] = [
        ("duplicate", duplicate, lambda r: f"{r.signal} {_clock(r.timestamp)} is stored twice"),
        ("nan", nan, lambda r: f"{r.signal} {_clock(r.timestamp)} is NaN"),
        ("infinite", infinite, lambda r: f"{r.signal} {_clock(r.timestamp)} is {r.value}"),
        ("null_statistic", null, lambda r: f"{r.signal} {_clock(r.timestamp)} is NULL"),
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
                    f"{v} {_clock(r.timestamp)}: min {_number(r.low)}, mean "
                    f"{_number(r.mean)}, max {_number(r.high)}"
                ),
            ),
            (
                "std",
                pd.DataFrame(
                    {"day": stamp_days[bad_std], "timestamp": stamps[bad_std], "std": std[bad_std]}
                ),
                lambda r, v=variable: f"{v}_std {_clock(r.timestamp)} is {_number(r.std)} < 0",
            ),
        ]

    counts = {kind: np.zeros(count, dtype=np.int64) for kind, _, _ in listed}
    first: list[dict[int, list[str]]] = []
    for kind, found, text in listed:
        counts[kind] += np.bincount(found["day"], minlength=count)
        first.append({i: [text(r) for r in part] for i, part in _first_per_day(found).items()})

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
    differ = _ordered(both[~(same_null | (close & ~stored_nan))])
    values_compared = np.bincount(both["day"], minlength=count)
    values_differing = np.bincount(differ["day"], minlength=count)
    first_differing = _first_per_day(differ)

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
            f"{r.signal} {_clock(r.timestamp)}: Target "
            f"{'NaN' if r.is_nan else _number(r.value_target)}, Source {_number(r.value_source)}"
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
    day = coverage.day
    metadata = {
        "minutes_present": coverage.minutes_present,
        "minutes_missing": coverage.minutes_missing,
        "percent_present": coverage.percent_present,
        "missing_ranges": describe_ranges(coverage.missing_ranges, limit=10) or "none",
        "unusable_values": dg.MetadataValue.json(coverage.unusable),
    }
    if coverage.fully_usable:
        return Outcome(
            True, f"{day}: 1,440 of 1,440 minutes present, every value usable", metadata=metadata
        )
    problems = []
    if not coverage.complete:
        problems.append(
            f"{coverage.minutes_present:,} of 1,440 minutes present "
            f"({coverage.percent_present}%), missing {describe_ranges(coverage.missing_ranges)}"
        )
    problems += [
        f"{name} is NULL, NaN or infinite in {count} minute(s)"
        for name, count in coverage.unusable.items()
        if count
    ]
    return Outcome(False, f"{day}: " + "; ".join(problems), WARN, metadata)


def source_coverage_outcomes(run: RunRows) -> list[Outcome]:
    """`source_coverage` for each day of the run, in `run.days` order."""
    return [source_coverage_outcome(coverage) for coverage in profile_days(run.source, run.days)]


EVALUATE: dict[str, Callable[[RunRows], list[Outcome]]] = {
    COMPLETE: complete_outcomes,
    CONSISTENT: consistent_outcomes,
    MATCHES_SOURCE: matches_source_outcomes,
    SOURCE_COVERAGE: source_coverage_outcomes,
}


# -- the Dagster check ---------------------------------------------------------------------
@dg.multi_asset_check(
    specs=list(SPECS.values()),
    name="wind_10min_aggregates_checks",
    description="Completeness, consistency, agreement with the Source, and Source coverage, per day.",
    can_subset=True,
)
def wind_10min_aggregates_checks(
    context: dg.AssetCheckExecutionContext, conektor: ConektorClient, target_db: TargetDatabase
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Evaluate the selected checks for every day of the run (one day, or a backfill's range)."""
    days = [date.fromisoformat(key) for key in context.partition_keys]
    selected = context.selected_asset_check_keys
    # Right after this run's asset step, its Source rows; otherwise read through the API.
    source = run_memo.take(context.run.run_id, days)
    if source is None:
        source = fetch_rows(conektor.session, days)
    else:
        context.log.info(f"Source rows of {len(days)} day(s) taken from this run's asset step")
    run = RunRows.of(days, source, read_target_days(target_db.engine, days))
    names = [name for name, spec in SPECS.items() if spec.key in selected]
    # Each check once over all days (a year in a fraction of a second), then a verdict per day.
    by_check = {name: EVALUATE[name](run) for name in names}
    yield from report(
        context,
        (
            (SPECS[name].key, day.isoformat(), by_check[name][i])
            for i, day in enumerate(run.days)
            for name in names
        ),
    )
