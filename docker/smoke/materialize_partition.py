"""Launch one partition of `wind_etl_job` through the Dagster webserver's GraphQL API and wait.

Used by `scripts/compose-smoke.sh` against the compose deployment, and by the test suite
against a native webserver. Standard library only: it runs with any host `python3` (3.8+).

    python3 docker/smoke/materialize_partition.py --url http://127.0.0.1:3000 --partition 2024-01-05

Prints the run id and its final status; exit code 0 when the run succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

LOCATION = "wind_pipeline"
# A Definitions object is served as a repository with this name.
REPOSITORY = "__repository__"
JOB = "wind_etl_job"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

LOCATION_STATUS = """
query LocationStatus {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation LaunchPartition($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on Error { message }
  }
}
"""


class SmokeError(RuntimeError):
    """The webserver refused or failed the request; the message says why."""


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        raise SmokeError(f"cannot reach the webserver at {url}: {exc}") from None
    if payload.get("errors"):
        raise SmokeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def wait_for_location(url: str, deadline: float) -> None:
    """Wait until the webserver has loaded the code location."""
    last = "not listed"
    while time.monotonic() < deadline:
        try:
            workspace = graphql(url, LOCATION_STATUS)["workspaceOrError"]
        except SmokeError as exc:
            last = str(exc)
        else:
            entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
            entry = entries.get(LOCATION)
            if entry and entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"] or {}
                if loaded.get("__typename") == "PythonError":
                    raise SmokeError(
                        f"code location {LOCATION} failed to load: {loaded['message']}"
                    )
                return
            last = entry["loadStatus"] if entry else "not listed"
        time.sleep(2)
    raise SmokeError(f"code location {LOCATION} is not loaded ({last})")


def launch_partition(url: str, partition: str) -> str:
    """Queue a run of the job for one partition; return its run id."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": JOB,
        },
        "runConfigData": {},
        "executionMetadata": {
            "tags": [
                {"key": "dagster/partition", "value": partition},
                {"key": "wind/trigger", "value": "compose-smoke"},
            ]
        },
    }
    result = graphql(url, LAUNCH_RUN, {"executionParams": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        detail = result.get("message") or result.get("errors") or ""
        raise SmokeError(f"launchRun returned {result['__typename']}: {detail}")
    return result["run"]["runId"]


def wait_for_run(url: str, run_id: str, deadline: float) -> str:
    """Poll the run until it finishes; return its final status."""
    status = "unknown"
    while time.monotonic() < deadline:
        run = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise SmokeError(f"run {run_id}: {run.get('message', run['__typename'])}")
        status = run["status"]
        if status in FINISHED:
            return status
        time.sleep(3)
    raise SmokeError(f"run {run_id} did not finish in time (last status {status})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the webserver's URL")
    parser.add_argument("--partition", default="2024-01-05", help="the UTC day to materialize")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait in all")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    try:
        wait_for_location(args.url, deadline)
        run_id = launch_partition(args.url, args.partition)
        print(f"run {run_id}: {JOB} for partition {args.partition} queued", flush=True)
        status = wait_for_run(args.url, run_id, deadline)
    except SmokeError as exc:
        print(f"materialize_partition: {exc}", file=sys.stderr)
        return 1
    print(f"run {run_id}: {status}", flush=True)
    return 0 if status == "SUCCESS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
