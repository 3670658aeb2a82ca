"""The code location in live mode, driven the way the daemon drives it, in its own process.

The mode is read when the code location loads, so a test that needs the live partitions runs
this module in a subprocess with WIND_LIVE=true (never by changing its own environment):

    python -m wind_pipeline_tests.support.live_probe feed
    python -m wind_pipeline_tests.support.live_probe schedule 2026-11-30T00:30:00+00:00

It uses the instance at DAGSTER_HOME and the WIND_* URLs of its environment, and prints one
JSON line: what the test asserts on.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import datetime

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)


def feed(instance: dg.DagsterInstance) -> dict:
    """A run of `source_live_job`, as the feed's schedule launches every minute."""
    from wind_pipeline.definitions import defs

    result = defs.resolve_job_def("source_live_job").execute_in_process(instance=instance)
    (materialization,) = result.asset_materializations_for_node("source_live_readings")
    return {
        "success": result.success,
        **{key: value.value for key, value in materialization.metadata.items()},
    }


def schedule(instance: dg.DagsterInstance, tick: datetime) -> dict:
    """Evaluate the daily schedule at `tick` through the instance, then run what it requests
    on that instance, with the tags the daemon gives a scheduled run."""
    from wind_pipeline.definitions import defs

    schedule_def = defs.resolve_schedule_def("wind_etl_daily_schedule")
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        data = schedule_def.evaluate_tick(context)
    requests = list(data.run_requests or [])
    if len(requests) != 1:
        return {"requests": len(requests), "skip": data.skip_message}
    (request,) = requests
    tags = {**request.tags, "dagster/schedule_name": schedule_def.name}
    result = defs.resolve_job_def(schedule_def.job_name).execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=tags, raise_on_error=False
    )
    return {
        "requests": 1,
        "partition": request.partition_key,
        "run_id": result.run_id,
        "success": result.success,
        "default_status": schedule_def.default_status.value,
    }


def main(argv: list[str]) -> int:
    from wind_pipeline.mode import LIVE

    if not LIVE:
        print(json.dumps({"error": "the code location did not load in live mode"}))
        return 2
    with dg.DagsterInstance.get() as instance:
        if argv[0] == "feed":
            out = feed(instance)
        else:
            out = schedule(instance, datetime.fromisoformat(argv[1]))
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
