"""The UTC days a run of the aggregates works on: its partition or range of partitions, or, for
a checks-only run launched with no partition (the UI's *Execute all* on the Checks tab), every
day the Target holds."""

from collections.abc import Sequence
from datetime import date

import dagster as dg
from sqlalchemy import Engine

from wind_pipeline.checks.aggregate_checks import AGGREGATES
from wind_pipeline.etl.days import consecutive_runs, days_between
from wind_pipeline.etl.target_reader import target_days
from wind_pipeline.partitions import partitioned_days
from wind_pipeline.settings import redact


class NothingToCheck(RuntimeError):
    """A checks-only run with no partition found no aggregated day in the Target."""


def day_ranges(days: Sequence[date]) -> str:
    """Distinct `days` as runs of consecutive days: `2024-01-01..2024-01-10, 2024-02-03`."""
    runs = consecutive_runs(days, longest=len(days))
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def _held_days(context: dg.AssetExecutionContext, engine: Engine) -> list[date]:
    """The partitions the Target holds rows for, said in one log line."""
    held = target_days(engine)
    # A day outside the partitions (today, or before the first) has no partition to judge.
    days = partitioned_days(held)
    where = redact(engine.url.render_as_string(hide_password=False))
    if not days:
        raise NothingToCheck(
            f"nothing to check: the Target database {where} holds no aggregated day of "
            "wind_10min_aggregates; materialize a partition first"
        )
    skipped = sorted(set(held) - set(days))
    context.log.info(
        f"No partition given: checking the {len(days)} day(s) the Target holds: "
        f"{day_ranges(days)}"
        + (f" (skipped, not partitions: {day_ranges(skipped)})" if skipped else "")
    )
    return days


def run_days(context: dg.AssetExecutionContext, engine: Engine) -> list[date]:
    """The run's days; a run with no partition may only run the checks."""
    if context.has_partition_key or context.has_partition_key_range:
        window = context.partition_time_window
        days = days_between(window.start, window.end)
        if not days:
            raise ValueError(
                f"the run's partition window {window.start:%Y-%m-%d} .. "
                f"{window.end:%Y-%m-%d} holds no day (a reversed --partition-range?)"
            )
        return days
    if AGGREGATES in context.selected_asset_keys:
        raise ValueError(
            "wind_10min_aggregates is partitioned by UTC day: materialize a partition or a "
            "range of partitions (only its checks may run without one)"
        )
    return _held_days(context, engine)
