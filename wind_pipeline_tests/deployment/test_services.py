"""The Dagster services of docker-compose.yml, run natively from their compose command lines
and environment: the code location's gRPC server, dagster-webserver and dagster-daemon, on
Dagster storage in PostgreSQL (dagster.yaml). The one change from the containers: runs are
launched by the default run launcher (a subprocess of the gRPC server) instead of the
DockerRunLauncher, since there is no Docker engine here; the run gets the environment the
DockerRunLauncher would give its container (dagster.yaml's `env_vars`, from the daemon)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.events import DagsterEventType
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ListRepositoriesResponse
from dagster._serdes import deserialize_value
from dagster_docker import DockerRunLauncher

from wind_pipeline.target_models import create_target_schema
from wind_pipeline_tests.support.deployment import (
    DAGSTER_YAML,
    WORKSPACE_YAML,
    NativeProcess,
    compose_config,
    image_environment,
    load_script,
    make_dagster_home,
    native_command,
    run_command,
    service_environment,
    storage_values,
)
from wind_pipeline_tests.support.helpers import REPO_ROOT, scalar
from wind_stack.net import free_port

GRPC_PORT, WEB_PORT = 4000, 3000  # the container ports in docker-compose.yml
STARTUP_SECONDS = 240
SMOKE_HELPER = REPO_ROOT / "docker" / "smoke" / "materialize_partition.py"


def _smoke_helper() -> ModuleType:
    return load_script(SMOKE_HELPER)


def _default_launcher(config: dict) -> dict:
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    # The default launcher cannot resume a run; Dagster refuses resume attempts with it.
    config["run_monitoring"]["max_resume_run_attempts"] = 0
    return config


@dataclass
class Stack:
    services: dict
    workdir: Path
    home: Path
    grpc_port: int
    web_url: str
    target_url: str
    storage: dict[str, str]
    envs: dict[str, dict[str, str]]
    processes: dict[str, NativeProcess]

    def instance(self, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
        for key in [*self.storage, "DAGSTER_COMPUTE_LOGS_DIR"]:
            monkeypatch.setenv(key, self.envs["dagster-daemon"][key])
        return dg.DagsterInstance.from_config(str(self.home))


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[str], str],
    source_url: str,
    api_url: str,
) -> Iterator[Stack]:
    services = compose_config()["services"]
    workdir = tmp_path_factory.mktemp("compose-native")
    # The images' working directory: the dagster image holds workspace.yaml there.
    shutil.copy(WORKSPACE_YAML, workdir / "workspace.yaml")
    home = make_dagster_home(workdir / "dagster_home", _default_launcher)
    base = image_environment(home, workdir / "compute_logs")
    target_url = new_database("target")
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool)
    create_target_schema(engine)
    engine.dispose()

    grpc_port, web_port = free_port(), free_port()
    storage = storage_values(new_database("dagster"))
    values = {
        **storage,
        "DAGSTER_CODE_LOCATION_HOST": "127.0.0.1",
        "DAGSTER_CODE_LOCATION_PORT": str(grpc_port),
        "WIND_SOURCE_DB_URL": source_url,
        "WIND_TARGET_DB_URL": target_url,
        "WIND_API_URL": api_url,
    }
    envs = {
        name: service_environment(services[name], values, base)
        for name in ("code-location", "dagster-webserver", "dagster-daemon")
    }
    # What the DockerRunLauncher would put in a run's container, from the daemon's environment.
    forwarded = yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]["env_vars"]
    run_env = {name: envs["dagster-daemon"][name] for name in forwarded}
    ports = {GRPC_PORT: grpc_port, WEB_PORT: web_port}

    processes: dict[str, NativeProcess] = {}
    try:
        processes["code-location"] = NativeProcess(
            "code-location",
            native_command(services["code-location"]["command"], ports),
            {**envs["code-location"], **run_env},
            workdir,
        )
        _wait_healthy(services, "code-location", processes, envs, ports, workdir)
        for name in ("dagster-webserver", "dagster-daemon"):
            processes[name] = NativeProcess(
                name, native_command(services[name]["command"], ports), envs[name], workdir
            )
        for name in ("dagster-webserver", "dagster-daemon"):
            _wait_healthy(services, name, processes, envs, ports, workdir)
        yield Stack(
            services=services,
            workdir=workdir,
            home=home,
            grpc_port=grpc_port,
            web_url=f"http://127.0.0.1:{web_port}",
            target_url=target_url,
            storage=storage,
            envs=envs,
            processes=processes,
        )
    finally:
        for name in ("dagster-daemon", "dagster-webserver", "code-location"):
            if name in processes:
                processes[name].stop()


def _healthcheck(services: dict, name: str, ports: dict[int, int]) -> list[str]:
    kind, *command = services[name]["healthcheck"]["test"]
    assert kind == "CMD", name
    return native_command(command, ports)


def _wait_healthy(services, name, processes, envs, ports, workdir) -> None:
    command = _healthcheck(services, name, ports)
    processes[name].wait_until(
        lambda: run_command(command, envs[name], cwd=workdir, timeout=60).returncode == 0,
        timeout=STARTUP_SECONDS,
        what=f"passing healthcheck {' '.join(command)!r}",
    )


def test_the_grpc_server_from_the_compose_command_answers_its_healthcheck(stack):
    command = _healthcheck(stack.services, "code-location", {GRPC_PORT: stack.grpc_port})
    assert command == ["dagster", "api", "grpc-health-check", "-p", str(stack.grpc_port)]
    env = stack.envs["code-location"]
    assert run_command(command, env, cwd=stack.workdir, timeout=60).returncode == 0
    # The same check fails where no server answers.
    elsewhere = _healthcheck(stack.services, "code-location", {GRPC_PORT: free_port()})
    assert run_command(elsewhere, env, cwd=stack.workdir, timeout=60).returncode == 1


def test_the_code_location_reports_the_image_compose_builds_for_it(stack):
    client = DagsterGrpcClient(port=stack.grpc_port, host="127.0.0.1")
    response = deserialize_value(client.list_repositories(), ListRepositoriesResponse)
    assert response.container_image == stack.services["code-location"]["image"]
    assert response.container_image == "wind-pipeline-code:local"


def test_the_webserver_lists_the_code_locations_assets(stack):
    graphql = _smoke_helper().graphql
    data = graphql(
        stack.web_url,
        """
        {
          workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } }
          assetNodes { assetKey { path } groupName isPartitioned jobNames }
          assetNodeOrError(assetKey: {path: ["wind_10min_aggregates"]}) {
            ... on AssetNode { partitionKeys }
          }
        }
        """,
    )
    entries = {e["name"]: e["loadStatus"] for e in data["workspaceOrError"]["locationEntries"]}
    assert entries == {"wind_pipeline": "LOADED"}
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert set(nodes) == {
        "source_seed",
        "source_live_readings",
        "target_schema",
        "wind_10min_aggregates",
    }
    assert nodes["wind_10min_aggregates"]["isPartitioned"] is True
    assert "wind_etl_job" in nodes["wind_10min_aggregates"]["jobNames"]
    assert set(nodes["source_seed"]["jobNames"]) >= {"bootstrap_job"}
    keys = data["assetNodeOrError"]["partitionKeys"]
    # The Compose deployment runs in fixed mode: the design card's ten days.
    assert keys == [f"2024-01-{day:02d}" for day in range(1, 11)]


def test_a_partition_launched_through_graphql_is_queued_run_and_written(stack, monkeypatch):
    """What scripts/compose-smoke.sh does, against the native services."""
    result = run_command(
        [
            # -I -S: no site-packages, as with a host's bare python3 (the helper is stdlib-only).
            sys.executable,
            "-I",
            "-S",
            str(SMOKE_HELPER),
            "--url",
            stack.web_url,
            "--partition",
            "2024-01-05",
            "--timeout",
            "300",
        ],
        {"PATH": "/usr/bin:/bin"},
        cwd=stack.workdir,
        timeout=360,
    )
    logs = {name: p.log_tail(20) for name, p in stack.processes.items()}
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs}"
    assert result.stdout.strip().endswith("SUCCESS")
    run_id = result.stdout.split()[1].rstrip(":")

    day = "SELECT count(*) FROM data WHERE timestamp >= '2024-01-05Z' AND timestamp < '2024-01-06Z'"
    assert scalar(stack.target_url, day) == 1152
    assert scalar(stack.target_url, "SELECT count(*) FROM data") == 1152

    with stack.instance(monkeypatch) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.is_success and run.tags["dagster/partition"] == "2024-01-05"
        # It went through the QueuedRunCoordinator: queued by the webserver, dequeued and
        # launched by the daemon.
        lifecycle = {
            DagsterEventType.RUN_ENQUEUED,
            DagsterEventType.RUN_STARTING,
            DagsterEventType.RUN_START,
            DagsterEventType.RUN_SUCCESS,
        }
        kinds = [
            e.dagster_event.event_type
            for e in instance.all_logs(run_id)
            if e.dagster_event and e.dagster_event.event_type in lifecycle
        ]
        assert kinds == [
            DagsterEventType.RUN_ENQUEUED,
            DagsterEventType.RUN_STARTING,
            DagsterEventType.RUN_START,
            DagsterEventType.RUN_SUCCESS,
        ], kinds
        # The run remembers its code location's image; in compose the DockerRunLauncher
        # (configured by the committed dagster.yaml) would start exactly that image.
        origin = run.job_code_origin
        assert origin.repository_origin.container_image == "wind-pipeline-code:local"
        launcher_config = yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]
        launcher = DockerRunLauncher(**launcher_config)
        assert launcher._get_docker_image(origin) == stack.services["code-location"]["image"]


def test_the_daemon_runs_the_queue_monitoring_and_retry_daemons(stack):
    command = _healthcheck(stack.services, "dagster-daemon", {})
    env = stack.envs["dagster-daemon"]
    assert run_command(command, env, cwd=stack.workdir, timeout=60).returncode == 0
    data = _smoke_helper().graphql(
        stack.web_url,
        "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }",
    )
    statuses = {s["daemonType"]: s for s in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
    for daemon in ("QUEUED_RUN_COORDINATOR", "MONITORING", "EVENT_LOG_CONSUMER", "SCHEDULER"):
        assert statuses[daemon]["required"], daemon
        assert statuses[daemon]["healthy"], daemon
