"""The local instance's run launcher: Dagster's default one, plus a health check of run workers
so that run monitoring can mark a run whose process died as failed.

Upstream limitation worked around: `DefaultRunLauncher` cannot tell whether a run's process is
alive (`supports_check_run_worker_health` is False), so with it the monitoring daemon leaves a
run whose process was killed (the CLI's, `make run`'s, or a run worker whose code server died
with it) STARTED forever. Every run process records its pid in the run's first engine event
("Started process for run (pid: N)" or "Executing steps in process (pid: N)"); on one machine,
that process being gone (or the pid reused by a younger process) means the worker died.
Only for the local stack, where runs and the daemon share the machine; Compose uses
DockerRunLauncher, which checks its containers itself.
"""

from __future__ import annotations

import psutil
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.storage.dagster_run import DagsterRun

# A pid's process must have started before the event that names it (plus clock slack).
_CREATE_TIME_SLACK_SECONDS = 2.0


def run_worker_pid(instance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was recorded) of the process a run's first engine event names, if any."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        pid = metadata.get("pid")
        if pid is not None:
            try:
                return int(pid.value), record.timestamp
            except (TypeError, ValueError):
                continue
    return None


def process_alive(pid: int, recorded_at: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return (
            proc.status() != psutil.STATUS_ZOMBIE
            and proc.create_time() <= recorded_at + _CREATE_TIME_SLACK_SECONDS
        )
    except psutil.Error:
        return False


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose run workers' health the monitoring daemon can check."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        found = run_worker_pid(self._instance, run.run_id)
        if found is None:  # not started far enough to say: leave it to the start timeout
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run process recorded yet")
        pid, recorded_at = found
        if process_alive(pid, recorded_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is running")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process {pid} is gone")
