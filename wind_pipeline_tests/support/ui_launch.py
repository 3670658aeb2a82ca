"""Launch runs as the Dagster UI does, through GraphQL, against the real code location.

`ui_workspace` serves `wind_pipeline.definitions` from a code server (a subprocess, as
`dagster dev` does) for an instance whose storage is a PostgreSQL database; runs are launched
at once (DefaultRunCoordinator: the daemon's dequeue is not under test) by the default run
launcher, each in its own process. `UiSession.execute_all_checks` sends what the Checks tab's
*Execute all* button sends (dagster-webserver 1.13's ExecuteChecksButton.tsx).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.workspace.context import WorkspaceRequestContext
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

AGGREGATES_PATH = ["wind_10min_aggregates"]

CHECKS_QUERY = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    jobNames
    repository { name location { name } }
    assetChecksOrError { ... on AssetChecks { checks {
      name canExecuteIndividually jobNames partitionDefinition { description }
      partitionStatuses { ... on AssetCheckTimePartitionStatuses {
        ranges { startKey endKey status } } }
    } } }
  } }
}"""

# The UI's LAUNCH_PIPELINE_EXECUTION_MUTATION (ui-core/src/runs/RunUtils.tsx).
LAUNCH_MUTATION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}"""


@dataclass
class UiSession:
    context: WorkspaceRequestContext
    instance: dg.DagsterInstance

    def query(self, text: str, variables: dict | None = None) -> dict:
        return execute_dagster_graphql(self.context, text, variables).data

    def asset_checks(self) -> dict:
        """The aggregates' node as the Checks tab loads it."""
        return self.query(CHECKS_QUERY, {"path": AGGREGATES_PATH})["assetNodeOrError"]

    def execute_all_checks(self, tags: dict[str, str] | None = None) -> dg.DagsterRun:
        """*Execute all* on the Checks tab (no partition), or the same selection with `tags`
        (e.g. a partition range, as GraphQL clients may add), run to its end."""
        node = self.asset_checks()
        checks = node["assetChecksOrError"]["checks"]
        launchable = [c for c in checks if c["canExecuteIndividually"] == "CAN_EXECUTE"]
        # The UI's resolvedJobName: the first job every check is in, else the asset's first.
        common = [j for j in checks[0]["jobNames"] if all(j in c["jobNames"] for c in checks)]
        ui_tags = {**(tags or {}), "dagster/from_ui": "true"}
        params = {
            "mode": "default",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in ui_tags.items()]},
            "runConfigData": "{}",
            "selector": {
                "jobName": (common or node["jobNames"])[0],
                "repositoryLocationName": node["repository"]["location"]["name"],
                "repositoryName": node["repository"]["name"],
                "assetSelection": [],
                "assetCheckSelection": [
                    {"assetKey": {"path": AGGREGATES_PATH}, "name": c["name"]} for c in launchable
                ],
            },
        }
        launched = self.query(LAUNCH_MUTATION, {"executionParams": params})
        result = launched["launchPipelineExecution"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return self.wait(result["run"]["id"])

    def wait(self, run_id: str, timeout: float = 180) -> dg.DagsterRun:
        deadline = time.monotonic() + timeout
        while not (run := self.instance.get_run_by_id(run_id)).is_finished:
            assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
            time.sleep(0.2)
        return run

    def events(self, run_id: str) -> list[dg.DagsterEvent]:
        return [r.dagster_event for r in self.instance.all_logs(run_id) if r.dagster_event]

    def messages(self, run_id: str) -> list[str]:
        """The run's log lines written by the code (context.log)."""
        return [r.user_message for r in self.instance.all_logs(run_id) if not r.dagster_event]


@contextmanager
def ui_workspace(storage_url: str, scratch: Path) -> Iterator[UiSession]:
    """The code location served to GraphQL, with an instance stored in `storage_url`.

    The code server and the runs it launches read WIND_* from the environment as it is now.
    """
    workspace = scratch / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: wind_pipeline.definitions\n"
        "      location_name: wind_pipeline\n"
    )
    overrides = {
        "storage": {"postgres": {"postgres_url": storage_url}},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        },
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        with define_out_of_process_context(str(workspace), None, instance) as context:
            yield UiSession(context, instance)
