"""Checks of `wind_10min_aggregates`: one verdict per check per day (partition).

They read the day's rows from the Target, and the day's Source rows through the Conektor API
(a few days per request), so a check run on its own later also notices a tampered Target or a
Source that changed since the day was aggregated.

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
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
from sqlalchemy import Double, Engine, cast, func, select

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline.checks.outcome import ERROR, WARN, Outcome, report
from wind_pipeline.etl.coverage import (
    DayCoverage,
    day_start,
    describe_ranges,
    fetch_days,
    profile_day,
    time_runs,
)
from wind_pipeline.etl.transform import aggregate_10min
from wind_pipeline.partitions import daily_partitions
from wind_pipeline.resources import ConektorClient, TargetDatabase
from wind_pipeline.target_models import AGGREGATED_VARIABLES, SIGNAL_NAMES, Data, Signal

BUCKETS_PER_DAY = 144
ROWS_PER_DAY = BUCKETS_PER_DAY * len(SIGNAL_NAMES)
BUCKET = pd.Timedelta(minutes=10)
# Values are written as text by COPY and read back as double: equal to the last bit in
# practice; the tolerance only absorbs rounding in a mean recomputed by the check.
RELATIVE_TOLERANCE = 1e-9
EXAMPLES = 5

COMPLETE = "complete"
CONSISTENT = "consistent"
MATCHES_SOURCE = "matches_source"
SOURCE_COVERAGE = "source_coverage"

_ASSET = wind_10min_aggregates.key

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


def _examples(rows: pd.DataFrame, limit: int = EXAMPLES) -> str:
    shown = ", ".join(f"{r.signal} {_clock(r.timestamp)}" for r in rows.head(limit).itertuples())
    return shown + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")


def _number(value: float) -> str:
    if pd.isna(value):
        return "NULL"
    return f"{value:.6g}"


# -- reading -------------------------------------------------------------------------------
def read_target_days(engine: Engine, days: Sequence[date]) -> dict[date, pd.DataFrame]:
    """The eight signals' rows for each day: signal, timestamp, value, is_nan.

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
    labels = frame["timestamp"].dt.floor("D").dt.date
    groups = {day: part.reset_index(drop=True) for day, part in frame.groupby(labels)}
    return {day: groups.get(day, frame.iloc[0:0]) for day in days}


def expected_rows(source: pd.DataFrame) -> pd.DataFrame:
    """What the ETL writes for these Source rows (the production transform, not a copy)."""
    expected = aggregate_10min(source)
    expected["timestamp"] = pd.to_datetime(expected["timestamp"], utc=True).dt.as_unit("ns")
    return expected


def expected_days(sources: dict[date, pd.DataFrame]) -> dict[date, pd.DataFrame]:
    """`expected_rows` for many days at once (one vectorised pass), split by day."""
    frames = [frame for frame in sources.values() if not frame.empty]
    if not frames:
        return {day: expected_rows(frame) for day, frame in sources.items()}
    expected = expected_rows(pd.concat(frames, ignore_index=True))
    labels = expected["timestamp"].dt.floor("D").dt.date
    groups = {day: part.reset_index(drop=True) for day, part in expected.groupby(labels)}
    return {day: groups.get(day, expected.iloc[0:0]) for day in sources}


def _merge(expected: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    return expected.merge(
        actual,
        on=["signal", "timestamp"],
        how="outer",
        suffixes=("_source", "_target"),
        indicator=True,
    ).sort_values(["timestamp", "signal"])


# -- the checks, as plain functions of a day's rows ----------------------------------------
def complete_outcome(day: date, expected: pd.DataFrame, actual: pd.DataFrame) -> Outcome:
    duplicates = actual[actual.duplicated(["signal", "timestamp"])]
    merged = _merge(expected, actual.drop_duplicates(["signal", "timestamp"]))
    missing = merged[merged["_merge"] == "left_only"]
    extra = pd.concat([merged[merged["_merge"] == "right_only"], duplicates])
    per_bucket = actual.groupby("timestamp")["signal"].nunique()
    complete_buckets = int((per_bucket == len(SIGNAL_NAMES)).sum())
    all_buckets = pd.date_range(day_start(day), periods=BUCKETS_PER_DAY, freq="10min")
    short = all_buckets.difference(per_bucket[per_bucket == len(SIGNAL_NAMES)].index)
    metadata = {
        "rows": len(actual),
        "rows_in_a_full_day": ROWS_PER_DAY,
        "buckets_complete": complete_buckets,
        "incomplete_buckets": describe_ranges(time_runs(short, BUCKET), limit=10) or "none",
        "rows_missing_vs_source": len(missing),
        "rows_extra_vs_source": len(extra),
    }
    if len(missing) or len(extra):
        problems = []
        if len(missing):
            problems.append(f"misses {len(missing)} row(s) the Source has ({_examples(missing)})")
        if len(extra):
            problems.append(
                f"holds {len(extra)} row(s) the Source does not support ({_examples(extra)})"
            )
        return Outcome(
            False,
            f"{day}: the Target {' and '.join(problems)}; re-materialize {day}",
            ERROR,
            metadata,
        )
    if complete_buckets < BUCKETS_PER_DAY:
        return Outcome(
            False,
            f"{day}: {complete_buckets} of {BUCKETS_PER_DAY} buckets complete "
            f"({len(actual):,} of {ROWS_PER_DAY:,} rows); the Source has no usable data for "
            f"bucket(s) {describe_ranges(time_runs(short, BUCKET), limit=10)}",
            WARN,
            metadata,
        )
    return Outcome(
        True,
        f"{day}: {BUCKETS_PER_DAY} buckets x {len(SIGNAL_NAMES)} signals = {ROWS_PER_DAY:,} rows",
        metadata=metadata,
    )


def consistent_outcome(day: date, actual: pd.DataFrame) -> Outcome:
    problems: list[str] = []
    rows = len(actual)
    counts = {
        "duplicate": 0,
        "nan": 0,
        "infinite": 0,
        "null_statistic": 0,
        "min_mean_max_order": 0,
        "std": 0,
    }

    # The primary key forbids duplicates; a Target whose key was dropped may still hold some.
    duplicate = actual[actual.duplicated(["signal", "timestamp"])]
    counts["duplicate"] = len(duplicate)
    problems += [
        f"{r.signal} {_clock(r.timestamp)} is stored twice" for r in duplicate.itertuples()
    ]
    actual = actual.drop_duplicates(["signal", "timestamp"])

    nan = actual[actual["is_nan"]]
    counts["nan"] = len(nan)
    problems += [f"{r.signal} {_clock(r.timestamp)} is NaN" for r in nan.itertuples()]
    infinite = actual[np.isinf(actual["value"])]
    counts["infinite"] = len(infinite)
    problems += [f"{r.signal} {_clock(r.timestamp)} is {r.value}" for r in infinite.itertuples()]
    null = actual[
        actual["value"].isna() & ~actual["is_nan"] & ~actual["signal"].str.endswith("_std")
    ]
    counts["null_statistic"] = len(null)
    problems += [f"{r.signal} {_clock(r.timestamp)} is NULL" for r in null.itertuples()]

    wide = actual[~actual["is_nan"]].pivot(index="timestamp", columns="signal", values="value")
    for variable in AGGREGATED_VARIABLES:
        get = {
            stat: wide.get(f"{variable}_{stat}", pd.Series(np.nan, index=wide.index))
            for stat in ("mean", "min", "max", "std")
        }
        tolerance = RELATIVE_TOLERANCE * np.maximum(1.0, get["mean"].abs())
        # Comparisons with a missing value are False: missing rows are `complete`'s business.
        bad_order = (get["min"] > get["mean"] + tolerance) | (get["mean"] > get["max"] + tolerance)
        for stamp in wide.index[bad_order.to_numpy()]:
            counts["min_mean_max_order"] += 1
            problems.append(
                f"{variable} {_clock(stamp)}: min {_number(get['min'][stamp])}, mean "
                f"{_number(get['mean'][stamp])}, max {_number(get['max'][stamp])}"
            )
        for stamp in wide.index[(get["std"] < 0).to_numpy()]:
            counts["std"] += 1
            problems.append(f"{variable}_std {_clock(stamp)} is {_number(get['std'][stamp])} < 0")

    metadata = {"rows_checked": rows, **{f"violations_{k}": v for k, v in counts.items()}}
    if not problems:
        return Outcome(
            True,
            f"{day}: {rows:,} rows; min <= mean <= max, std >= 0 or NULL, no NaN or infinity",
            metadata=metadata,
        )
    shown = "; ".join(problems[:EXAMPLES])
    more = f" (+{len(problems) - EXAMPLES} more)" if len(problems) > EXAMPLES else ""
    return Outcome(
        False, f"{day}: {len(problems)} inconsistent value(s): {shown}{more}", ERROR, metadata
    )


def matches_source_outcome(day: date, expected: pd.DataFrame, actual: pd.DataFrame) -> Outcome:
    both = _merge(expected, actual)
    both = both[both["_merge"] == "both"]
    source, target = both["value_source"], both["value_target"]
    stored_nan = both["is_nan"].astype(bool)
    same_null = source.isna() & target.isna() & ~stored_nan
    close = np.isclose(source, target, rtol=RELATIVE_TOLERANCE, atol=RELATIVE_TOLERANCE)
    differ = both[~(same_null | (close & ~stored_nan))]
    metadata = {"values_compared": len(both), "values_differing": len(differ)}
    if differ.empty:
        return Outcome(
            True,
            f"{day}: all {len(both):,} values equal the aggregation of the Source's current rows",
            metadata=metadata,
        )
    shown = "; ".join(
        f"{r.signal} {_clock(r.timestamp)}: Target {'NaN' if r.is_nan else _number(r.value_target)}"
        f", Source {_number(r.value_source)}"
        for r in differ.head(EXAMPLES).itertuples()
    )
    more = f" (+{len(differ) - EXAMPLES} more)" if len(differ) > EXAMPLES else ""
    return Outcome(
        False,
        f"{day}: {len(differ)} value(s) differ from the Source's current rows: {shown}{more}; "
        f"re-materialize {day}",
        ERROR,
        metadata,
    )


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
    sources = fetch_days(conektor.session, days)
    targets = read_target_days(target_db.engine, days)
    expected_by_day = expected_days(sources)

    def outcomes() -> Iterator[tuple[dg.AssetCheckKey, str, Outcome]]:
        for day in days:
            expected, actual = expected_by_day[day], targets[day]
            for name in SPECS:
                if SPECS[name].key not in selected:
                    continue
                if name == COMPLETE:
                    outcome = complete_outcome(day, expected, actual)
                elif name == CONSISTENT:
                    outcome = consistent_outcome(day, actual)
                elif name == MATCHES_SOURCE:
                    outcome = matches_source_outcome(day, expected, actual)
                else:
                    outcome = source_coverage_outcome(profile_day(day, sources[day]))
                yield SPECS[name].key, day.isoformat(), outcome

    yield from report(context, outcomes())
