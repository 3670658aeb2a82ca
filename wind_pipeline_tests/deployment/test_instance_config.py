"""dagster.yaml and workspace.yaml: valid for Dagster itself, and a real instance on PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._serdes.config_class import ConfigurableClassData
from dagster_docker import DockerRunLauncher
from dagster_postgres import PostgresRunStorage, PostgresScheduleStorage

from wind_pipeline_tests.support.deployment import (
    DAGSTER_YAML,
    WORKSPACE_YAML,
    make_dagster_home,
    storage_values,
)
from wind_stack.dagster_storage import PooledPostgresEventLogStorage

STORAGE_SECTIONS = ["run_storage", "event_log_storage", "schedule_storage"]
ENV_NAMES = [
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_COMPUTE_LOGS_DIR",
]


def _set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def _rehydrate(section: dict) -> object:
    """Instantiate a configurable class from its dagster.yaml section, validating its config
    against the class's own schema (env vars resolved), as the instance does."""
    data = ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(section.get("config") or {})
    )
    return data.rehydrate(object)


@pytest.fixture
def env_for_file(monkeypatch, tmp_path) -> dict[str, str]:
    values = {
        "DAGSTER_PG_HOST": "dagster-db",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "dagster",
        "DAGSTER_PG_PASSWORD": "a-password",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_COMPUTE_LOGS_DIR": str(tmp_path / "compute_logs"),
    }
    _set_env(monkeypatch, values)
    return values


def test_dagster_yaml_passes_dagster_instance_config_validation(env_for_file, tmp_path):
    home = make_dagster_home(tmp_path / "home")
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None

    # Storage: Postgres for runs, events and schedules, every connection setting from the
    # environment (the schema each storage class applies when the instance builds it).
    for section in STORAGE_SECTIONS:
        storage = process_config(resolve_to_config_type(pg_config()), config[section]["config"])
        assert storage.success, storage.errors
        assert storage.value["postgres_db"] == {
            "hostname": "dagster-db",
            "port": 5432,
            "username": "dagster",
            "password": "a-password",
            "db_name": "dagster",
            "params": {},
            "scheme": "postgresql",
        }
    assert config["event_log_storage"]["class"] == "PooledPostgresEventLogStorage"

    # Each pluggable class validates its own config (the env vars resolved) when built.
    coordinator = _rehydrate(config["run_coordinator"])
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs >= 1
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert limits["dagster/partition"]["limit"] == 1
    assert limits["dagster/partition"]["value"] == {"applyLimitPerUniqueValue": True}
    assert limits["dagster/backfill"]["limit"] < queue.max_concurrent_runs

    launcher = _rehydrate(config["run_launcher"])
    assert isinstance(launcher, DockerRunLauncher)
    assert launcher.networks == ["wind_pipeline_network"]
    assert launcher.image is None  # the image comes from the code location (DAGSTER_CURRENT_IMAGE)
    assert set(launcher.env_vars) >= {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
        "WIND_SOURCE_DB_URL",
        "WIND_TARGET_DB_URL",
        "WIND_API_URL",
    }
    assert launcher.container_kwargs["auto_remove"] is True
    # Terminate stops the container: SIGTERM, then SIGKILL after this long (dagster-docker
    # reads it for `stop`, not for `create`).
    assert launcher.container_kwargs["stop_timeout"] >= 10
    assert "DAGSTER_EVENT_BATCH_SIZE" in launcher.env_vars

    compute_logs = _rehydrate(config["compute_logs"])
    assert compute_logs._base_dir == env_for_file["DAGSTER_COMPUTE_LOGS_DIR"]

    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_resume_run_attempts"] >= 1
    assert config["run_retries"]["enabled"] is True
    assert config["run_retries"]["max_retries"] >= 1
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda c: c["run_monitoring"].update(enabeld=True), id="typo-in-a-key"),
        pytest.param(
            lambda c: c["run_retries"].update(max_retries="two"), id="wrong-type-of-value"
        ),
        pytest.param(lambda c: c.update(run_launchers=c["run_launcher"]), id="unknown-section"),
    ],
)
def test_instance_validation_rejects_a_broken_file(env_for_file, tmp_path, breakage):
    def broken(config: dict) -> dict:
        config = copy.deepcopy(config)
        breakage(config)
        return config

    home = make_dagster_home(tmp_path / "home", broken)
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(home))


def test_pluggable_class_validation_needs_the_env_vars_and_valid_config(env_for_file, monkeypatch):
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    storage = process_config(
        resolve_to_config_type(pg_config()), config["event_log_storage"]["config"]
    )
    assert not storage.success
    assert "DAGSTER_PG_PASSWORD" in str(storage.errors)

    monkeypatch.delenv("DAGSTER_COMPUTE_LOGS_DIR")
    with pytest.raises(Exception, match="DAGSTER_COMPUTE_LOGS_DIR"):
        _rehydrate(config["compute_logs"])

    launcher = copy.deepcopy(config["run_launcher"])
    launcher["config"]["container_kwargs"]["network"] = "elsewhere"
    with pytest.raises(Exception, match="'network' cannot be used in 'container_kwargs'"):
        _rehydrate(launcher)


def test_a_real_instance_runs_on_postgres_from_dagster_yaml(
    monkeypatch, tmp_path, new_database: Callable[[str], str]
):
    """The committed file, unchanged (DockerRunLauncher included: it needs Docker only to
    launch), with its storage pointed at a database on the test server."""
    url = new_database("dagster")
    _set_env(
        monkeypatch,
        {**storage_values(url), "DAGSTER_COMPUTE_LOGS_DIR": str(tmp_path / "compute_logs")},
    )
    home = make_dagster_home(tmp_path / "home")

    @dg.asset
    def deployment_probe() -> int:
        """A trivial asset whose run and materialization must land in Postgres."""
        return 1

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled
        result = dg.materialize([deployment_probe], instance=instance)
        assert result.success
        run_id = result.run_id

    # Another instance object on the same file sees it: it lives in the database.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.is_success
        event = instance.get_latest_materialization_event(dg.AssetKey("deployment_probe"))
        assert event is not None and event.run_id == run_id

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM runs WHERE run_id = :run_id"), {"run_id": run_id}
        ).scalar()
    engine.dispose()
    assert stored == 1


def test_workspace_yaml_names_the_grpc_code_location():
    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    assert server["host"] == {"env": "DAGSTER_CODE_LOCATION_HOST"}
    assert server["port"] == {"env": "DAGSTER_CODE_LOCATION_PORT"}
    assert server["location_name"] == "wind_pipeline"
