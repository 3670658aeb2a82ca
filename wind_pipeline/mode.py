"""The one switch between the design card's fixed ten days and a live Source: `WIND_LIVE`.

Fixed mode (the default): the partitions are the design card's period, 2024-01-01 ..
2024-01-10, and nothing runs by itself. Live mode (`make live` writes `WIND_LIVE=true` into
`.env`): the partitions run up to yesterday, the feed `source_live_readings` keeps the Source
current, and the daily schedule, the late-data sensor and the feed's schedule start RUNNING.

The value is read once, when the code location loads (like the resources' `dg.EnvVar`s), so
every process that loads it (the webserver, the daemon, each run) agrees within one checkout.
"""

from __future__ import annotations

import dagster as dg

from wind_pipeline.settings import ConfigurationError, parse_switch

LIVE_ENV_VAR = "WIND_LIVE"


def parse_live(value: str | None) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off; unset or empty means false)."""
    try:
        return parse_switch(value)
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {LIVE_ENV_VAR}: {exc}") from None


def live_from_env() -> bool:
    """The mode this process's environment asks for."""
    return parse_live(dg.EnvVar(LIVE_ENV_VAR).get_value())


LIVE: bool = live_from_env()

OFF_MESSAGE = (
    f"live mode is off ({LIVE_ENV_VAR}=false): the Source holds the design card's ten days; "
    "run `make live` for a live Source"
)
