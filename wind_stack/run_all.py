"""`make run`: provision the Source and Target, aggregate every complete day the Source holds,
and print a summary (wind_stack/converge.py). Runs go through Dagster (recorded in
DAGSTER_HOME, so `make dev` shows them); running it again converges on the same tables. It
holds the design card's ten days (fixed mode); `make live` (wind_stack/live.py) feeds the
Source up to now.

    python -m wind_stack.run_all      (what `make run` runs, after `make up`)
"""

from __future__ import annotations

import sys

import dagster as dg

from wind_pipeline.settings import ConfigurationError
from wind_stack.converge import converge
from wind_stack.dagster_ui import UI_URL, ui_of_this_checkout


def mode_line() -> str:
    """What `make run` holds: the design card's ten days (a WIND_LIVE exported in the shell wins
    over the `WIND_LIVE=false` that `make up` writes, but `make run` never feeds the Source)."""
    from wind_pipeline.domain import FIRST_PARTITION_DAY
    from wind_pipeline.mode import live_from_env
    from wind_pipeline.partitions import FIXED_LAST_DAY

    period = f"{FIRST_PARTITION_DAY} .. {FIXED_LAST_DAY}"
    if live_from_env():
        return f"live mode (WIND_LIVE exported): seeding the design card's ten days, {period}"
    return f"fixed mode: the design card's ten days, {period}; `make live` for a live Source"


def main() -> int:
    try:
        print(mode_line())
    except ConfigurationError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    code = converge("make run")
    if code == 0:
        with dg.DagsterInstance.get() as instance:
            ours = ui_of_this_checkout(UI_URL, instance)
        print(f"UI      {UI_URL}" if ours else "UI      not running (start it with `make dev`)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
