"""Running the code location's jobs in this process, on the instance at DAGSTER_HOME: how
`make run` and `make live` record their runs where the UI shows them."""

from __future__ import annotations

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta, by choice
# Dagster's console logger at WARNING: the summary is what a person wants to read here.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(name: str, instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> None:
    # Loaded here, not at import: the caller has exported the settings (and the mode) first.
    from wind_pipeline.definitions import defs

    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, tags=tags or {}, raise_on_error=False, run_config=_QUIET
    )
    if not result.success:
        failures = [
            event.step_failure_data.error.message.strip().splitlines()[0]
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error
        ]
        raise RuntimeError(f"{name} failed: {'; '.join(failures) or 'see the Dagster logs'}")
