"""Which materialization each partition's verdict judges: the partition's latest one.

Dagster shows a partitioned check's status per partition only while its latest evaluation
targets the partition's latest materialization. `AssetCheckResult` looks that up itself; an
`AssetCheckEvaluation` (one per day, see outcome.py) must carry it, or the check's
*Partitions* tab stays empty.
"""

from collections.abc import Collection, Mapping

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as Target,
)

MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION


def judged_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: Collection[str]
) -> Mapping[str, Target]:
    """The latest materialization of each of `partitions` that has one (two queries in all)."""
    if not partitions:
        return {}
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, MATERIALIZATION, set(partitions)
    )
    if not latest:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(latest.values())),
        limit=len(latest),
    ).records
    return {
        record.partition_key: Target(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        for record in records
        if record.partition_key is not None
    }
