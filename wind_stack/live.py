"""`make live`'s driver: the `make run` steps with a live Source, before the UI starts.

`make live` runs `wind-stack up --live` (which writes `WIND_LIVE=true` into `.env`), this
driver, then `dg dev` in the foreground. The driver seeds the design card's ten days and
creates the Target schema (as `make run`), materializes the feed `source_live_readings` (the
last days filled in up to the current minute), then aggregates every complete day, so
yesterday's partition is materialized when the UI opens. From then on the daemon keeps it
live: the schedules and the sensor below start RUNNING in live mode.

    python -m wind_stack.live      (after `wind-stack up --live`)
"""

from __future__ import annotations

import os
import sys

import dagster as dg

from wind_pipeline.settings import ConfigurationError
from wind_stack.converge import converge
from wind_stack.dagster_runs import run_job
from wind_stack.dagster_ui import UI_URL

PROG = "make live"
WHAT_RUNS = (
    "Live    source_live_schedule: a feed run every minute appends the newest reading",
    "        wind_etl_daily_schedule: at 00:30 UTC, the day that just ended",
    "        wind_late_data_sensor: every 5 minutes, re-runs days whose Source rows changed",
)


def _feed(instance: dg.DagsterInstance) -> None:
    print("materializing source_live_readings (the Source, up to the current minute) ...")
    run_job("source_live_job", instance)


def live_mode_on() -> str | None:
    """Load the code location's switch in live mode; why it cannot be, or None."""
    # As `.env` says after `wind-stack up --live`, for the runs this process makes; set before
    # the code location first loads (in run_job). An exported value wins, as everywhere.
    os.environ.setdefault("WIND_LIVE", "true")
    try:
        from wind_pipeline.mode import LIVE
    except ConfigurationError as exc:
        return str(exc)
    if not LIVE:
        return "WIND_LIVE is exported as false in this shell, and it wins over .env: unset it"
    return None


def main() -> int:
    problem = live_mode_on()
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    print("live mode: the design card's ten days, and the Source fed up to the current minute")
    code = converge(PROG, feed=_feed)
    if code == 0:
        print("\n".join(WHAT_RUNS))
        print(f"UI      {UI_URL}  (`dg dev`, the UI and the daemon; Ctrl-C stops the feed)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
