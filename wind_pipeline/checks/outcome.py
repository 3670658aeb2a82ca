"""A check's verdict, and how a check op reports one verdict per partition to Dagster."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from wind_pipeline.checks.judged import Target

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Outcome:
    """What a check found: pass/fail, how bad, one line for a person, and numbers for the UI."""

    passed: bool
    description: str
    severity: dg.AssetCheckSeverity = ERROR
    metadata: Mapping[str, Any] = field(default_factory=dict)


def report(
    context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext,
    outcomes: Iterable[tuple[dg.AssetCheckKey, str | None, Outcome]],
    targets: Mapping[str, Target] | None = None,
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """One evaluation per (check, partition), then the check outputs Dagster expects.

    `AssetCheckResult` can carry only the run's single partition, so a single-run backfill
    of many days would record one unpartitioned result. An `AssetCheckEvaluation` names its
    partition, so each day of the range gets its own verdict in the UI; `targets` names the
    materialization each partition's verdict judges (judged.py).
    """
    targets = targets or {}
    assets_def = context.op_execution_context.assets_def
    specs = {spec.key: spec for spec in assets_def.check_specs}
    reported = set()
    for key, partition, outcome in outcomes:
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=outcome.passed,
            severity=outcome.severity,
            description=outcome.description,
            metadata=dict(outcome.metadata),
            blocking=specs[key].blocking,
            partition=partition,
            target_materialization_data=targets.get(partition) if partition else None,
        )
        reported.add(key)
    for key in sorted(reported, key=lambda k: k.name):
        # Downstream steps that wait on a blocking check wait on this output.
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
