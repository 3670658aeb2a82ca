"""The aggregates' asset checks, declared on the asset: one verdict per check per day.

They run in the asset's own step, from the rows that step just read and the Target's rows it
just wrote; run on their own (the UI's *Checks* tab, *Execute*), the step reads the Source
through the Conektor API itself, so a later check also notices a tampered Target or a Source
that changed since the day was aggregated.

Blocking or not (a failed blocking check with ERROR severity fails the step and stops assets
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

import warnings
from collections.abc import Iterator

import dagster as dg

from wind_pipeline.checks.aggregate_verdicts import (
    COMPLETE,
    CONSISTENT,
    EVALUATE,
    MATCHES_SOURCE,
    SOURCE_COVERAGE,
)
from wind_pipeline.checks.judged import judged_materializations
from wind_pipeline.checks.outcome import report
from wind_pipeline.checks.run_rows import RunRows
from wind_pipeline.domain import MINUTES_PER_DAY, ROWS_PER_DAY
from wind_pipeline.partitions import daily_partitions, partition_key

AGGREGATES = dg.AssetKey("wind_10min_aggregates")

_DESCRIPTIONS = {
    COMPLETE: (
        "Every 10-minute bucket the Source supports has its four statistics for both "
        f"variables: 144 buckets x 8 signals = {ROWS_PER_DAY:,} rows when the Source day has all "
        f"{MINUTES_PER_DAY:,} minutes. ERROR when the Target misses rows the Source has, or holds "
        "rows it does not; WARN naming the buckets when the Source itself has gaps."
    ),
    CONSISTENT: (
        "For each bucket and variable: min <= mean <= max, std >= 0 or NULL (one "
        "sample), mean/min/max never NULL, and no NaN or infinity stored."
    ),
    MATCHES_SOURCE: (
        "Every stored value equals the aggregation of the Source's current rows for the "
        "day (catches a tampered Target, and a Source that changed since the run)."
    ),
    SOURCE_COVERAGE: (
        f"Minutes the Source holds for the day out of {MINUTES_PER_DAY:,}, and values the ETL "
        "skipped (NULL, NaN, infinite or out of range). WARN below 100%: the day is aggregated "
        "from what is there."
    ),
}
_BLOCKING = {COMPLETE: True, CONSISTENT: True, MATCHES_SOURCE: True, SOURCE_COVERAGE: False}

with warnings.catch_warnings():
    # Partitioned checks are a Dagster preview feature: chosen so each day gets its own verdict.
    warnings.simplefilter("ignore", category=dg.PreviewWarning)
    SPECS = {
        name: dg.AssetCheckSpec(
            name,
            asset=AGGREGATES,
            partitions_def=daily_partitions,
            blocking=_BLOCKING[name],
            description=description,
        )
        for name, description in _DESCRIPTIONS.items()
    }


def evaluate_checks(
    context: dg.AssetExecutionContext, run: RunRows
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """The selected checks' verdicts for every day of `run`, as Dagster events."""
    selected = context.selected_asset_check_keys
    names = [name for name, spec in SPECS.items() if spec.key in selected]
    # Each check once over all days of the run (vectorised), then a verdict per day.
    by_check = {name: EVALUATE[name](run) for name in names}
    keys = [partition_key(day) for day in run.days]
    yield from report(
        context,
        ((SPECS[name].key, key, by_check[name][i]) for i, key in enumerate(keys) for name in names),
        judged_materializations(context.instance, AGGREGATES, keys),
    )
