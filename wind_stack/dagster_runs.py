"""Running the code location's jobs in this process, on the instance at DAGSTER_HOME: how
`make run`, `make live` and the Compose bootstrap record their runs where the UI shows them."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta, by choice


def run_job(
    name: str,
    instance: dg.DagsterInstance,
    tags: dict[str, str] | None = None,
    console_level: str = "WARNING",
) -> None:
    """Execute job `name` in this process, recorded in `instance`; raise RuntimeError naming
    the run and each failed step's root cause on failure. The run's full log is in the
    instance; the console shows only `console_level` and above (the caller prints a summary)."""
    # Loaded here, not at import: the caller has exported the settings (and the mode) first.
    from wind_pipeline.definitions import defs

    quiet = {"loggers": {"console": {"config": {"log_level": console_level}}}}
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, tags=tags or {}, raise_on_error=False, run_config=quiet
    )
    if not result.success:
        failures = [
            f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error
        ]
        raise RuntimeError(
            f"{name} failed (run {result.run_id}): "
            + ("; ".join(failures) or "see the run's logs in the Dagster UI")
        )


def _root_cause(error: SerializableErrorInfo) -> str:
    """The first line of the innermost error: the reason, not Dagster's wrapper around it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]
