"""The local stack as `make up`/`make run`/`make down` drive it, in a scratch folder.

Also runs the design card's command, `dagster asset materialize -m wind_pipeline.definitions
--select wind_10min_aggregates --partition 2024-01-05`, in a shell where the project's venv is
active (Dagster's run-one-job commands need `-m`: see docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from wind_pipeline_tests.support.helpers import execute, scalar, stop_process_group
from wind_stack.env_file import read_env_file
from wind_stack.stack import LocalStack

BIN = Path(sys.executable).parent


def _env(root: Path, dagster_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIND_", "DAGSTER_"))}
    env.update({"WIND_STACK_ROOT": str(root), "DAGSTER_HOME": str(dagster_home)})
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300):
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _dotenv(root: Path) -> dict[str, str]:
    return read_env_file(root / ".env")


@pytest.fixture(scope="module")
def stack_root(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("stack")
    home = root / "dagster_home"
    home.mkdir()
    env = _env(root, home)
    yield root, env
    _run([str(BIN / "wind-stack"), "down"], env, root)


def test_up_writes_settings_and_is_idempotent(stack_root):
    root, env = stack_root
    first = _run([str(BIN / "wind-stack"), "up"], env, root)
    assert first.returncode == 0, first.stderr
    settings = _dotenv(root)
    assert set(settings) == {
        "WIND_SOURCE_DB_URL",
        "WIND_TARGET_DB_URL",
        "WIND_API_URL",
        "DAGSTER_EVENT_BATCH_SIZE",
        "DAGSTER_HOME",
        "WIND_LIVE",
    }
    assert settings["WIND_LIVE"] == "false", "a plain `up` is fixed mode"
    assert httpx.get(f"{settings['WIND_API_URL']}/health").status_code == 200

    stack = LocalStack(root / ".stack", root / ".env")
    pids = (stack.postgres.postmaster_pid(), stack.api_pid())
    again = _run([str(BIN / "wind-stack"), "up"], env, root)
    assert again.returncode == 0, again.stderr
    assert (stack.postgres.postmaster_pid(), stack.api_pid()) == pids  # a no-op
    assert _dotenv(root) == settings


def test_make_run_flow_twice_gives_the_same_rows(stack_root):
    root, env = stack_root
    for _ in range(2):
        result = _run([sys.executable, "-m", "wind_stack.run_all"], env, root)
        assert result.returncode == 0, result.stderr
        assert "fixed mode: the design card's ten days, 2024-01-01 .. 2024-01-10" in result.stdout
        assert "14,400 rows from 2024-01-01T00:00Z to 2024-01-10T23:59Z" in result.stdout
        assert result.stdout.count("1152 rows") == 10
        assert "total 11,520 rows in 10 days" in result.stdout
    target = _dotenv(root)["WIND_TARGET_DB_URL"]
    assert scalar(target, "SELECT count(*) FROM data") == 11_520


def test_dagster_keeps_its_runs_in_the_stacks_postgres(stack_root):
    """`up` writes DAGSTER_HOME's dagster.yaml: runs and events in the `dagster` database, the
    event log over the pooled storage; `make run`'s runs are recorded there."""
    import dagster as dg
    from dagster_postgres import PostgresRunStorage

    from wind_stack.dagster_storage import PooledPostgresEventLogStorage

    root, env = stack_root
    stack = LocalStack(root / ".stack", root / ".env")
    yaml_text = (Path(env["DAGSTER_HOME"]) / "dagster.yaml").read_text()
    assert f"127.0.0.1:{stack.postgres.port}/dagster" in yaml_text
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
        assert isinstance(instance.run_storage, PostgresRunStorage)
        runs = instance.get_runs(dg.RunsFilter(job_name="wind_etl_job"))
        assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        # One verdict per check per day of the 10-day runs, stored in PostgreSQL.
        check = dg.AssetCheckKey(dg.AssetKey("wind_10min_aggregates"), "complete")
        history = instance.event_log_storage.get_asset_check_execution_history(check, limit=100)
        assert len({(r.run_id, r.partition) for r in history}) >= 10
    finally:
        instance.dispose()
    assert scalar(stack.postgres.url("dagster"), "SELECT count(*) FROM runs") >= len(runs)


def test_up_leaves_a_users_own_dagster_yaml_alone(tmp_path):
    stack = LocalStack(tmp_path / ".stack", tmp_path / ".env", tmp_path / "home")
    assert stack.write_dagster_instance()  # no file yet: written
    assert stack.write_dagster_instance()  # ours: rewritten (the port may have moved)
    own = "telemetry:\n  enabled: false\n"
    (tmp_path / "home" / "dagster.yaml").write_text(own)
    assert not stack.write_dagster_instance()
    assert (tmp_path / "home" / "dagster.yaml").read_text() == own


def test_the_etl_writes_as_the_least_privilege_writer(stack_root):
    import sqlalchemy as sa

    root, _ = stack_root
    settings = _dotenv(root)
    writer = sa.make_url(settings["WIND_TARGET_DB_URL"])
    assert writer.username == "wind_writer"
    source_as_writer = writer.set(database=sa.make_url(settings["WIND_SOURCE_DB_URL"]).database)
    engine = sa.create_engine(source_as_writer, poolclass=sa.pool.NullPool)
    try:
        for statement in ("DROP TABLE data", "DELETE FROM data", "CREATE DATABASE evil"):
            with pytest.raises(sa.exc.DBAPIError, match="must be owner|permission denied"):
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text(statement))
    finally:
        engine.dispose()
    assert scalar(settings["WIND_SOURCE_DB_URL"], "SELECT count(*) FROM data") == 14_400


def test_design_card_command_works_with_the_venv_active(stack_root):
    root, env = stack_root
    target = _dotenv(root)["WIND_TARGET_DB_URL"]
    deleted = execute(
        target, "DELETE FROM data WHERE timestamp >= '2024-01-05Z' AND timestamp < '2024-01-06Z'"
    )
    assert deleted == 1152
    command = (
        f"source {BIN / 'activate'} && export DAGSTER_HOME={env['DAGSTER_HOME']} && cd {root} && "
        "dagster asset materialize -m wind_pipeline.definitions "
        "--select wind_10min_aggregates --partition 2024-01-05"
    )
    result = _run(["bash", "-c", command], env, root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert scalar(target, "SELECT count(*) FROM data") == 11_520


def test_dagster_dev_serves_the_definitions_and_runs_a_partition(stack_root):
    """`make dev`'s `dg dev` (from the repo root: pyproject's [tool.dg]) on the stack:
    the UI lists the assets, jobs and schedule, and a partition launched through it succeeds."""
    from wind_pipeline_tests.support.helpers import REPO_ROOT
    from wind_stack.net import free_port

    root, env = stack_root
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = _dotenv(root)
    target = settings["WIND_TARGET_DB_URL"]
    execute(
        target, "DELETE FROM data WHERE timestamp >= '2024-01-06Z' AND timestamp < '2024-01-07Z'"
    )
    dev_env = {**env, **settings, "DAGSTER_HOME": env["DAGSTER_HOME"]}
    # `dg dev` loads the .env of its working folder over the environment; in the repo root
    # that is the developer's own stack. The stack root holds this stack's .env, and a copy of
    # pyproject.toml gives it the repo root's [tool.dg].
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "wind_pipeline").symlink_to(REPO_ROOT / "wind_pipeline")  # where `dg` looks for it
    log = open(root / "dagster_dev.log", "wb")  # noqa: SIM115 - closed in finally
    dev = subprocess.Popen(
        [str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=dev_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        helper = REPO_ROOT / "docker" / "smoke" / "materialize_partition.py"
        launched = _run(
            [
                sys.executable,
                str(helper),
                "--url",
                url,
                "--partition",
                "2024-01-06",
                "--timeout",
                "240",
            ],
            env,
            root,
            timeout=300,
        )
        assert launched.returncode == 0, (
            launched.stderr + (root / "dagster_dev.log").read_text()[-3000:]
        )
        query = (
            "{ assetNodes { assetKey { path } } repositoriesOrError { ... on RepositoryConnection "
            "{ nodes { jobs { name } schedules { name } sensors { name } } } } }"
        )
        data = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]
        assets = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
        assert assets == {
            "source_seed",
            "source_live_readings",
            "target_schema",
            "wind_10min_aggregates",
        }
        (repo,) = data["repositoriesOrError"]["nodes"]
        assert {"wind_etl_job", "bootstrap_job"} <= {job["name"] for job in repo["jobs"]}
        assert sorted(s["name"] for s in repo["schedules"]) == [
            "source_live_schedule",
            "wind_etl_daily_schedule",
        ]
        assert scalar(target, "SELECT count(*) FROM data") == 11_520
        # `make run`'s summary names this UI: it is this checkout's (issue 12 item 15).
        import dagster as dg

        from wind_stack.run_all import ui_of_this_checkout

        instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
        try:
            assert ui_of_this_checkout(url, instance)
        finally:
            instance.dispose()
    finally:
        stop_process_group(dev)
        log.close()


def test_down_then_up_keeps_data_and_recovers_from_a_crash(stack_root):
    root, env = stack_root
    source = _dotenv(root)["WIND_SOURCE_DB_URL"]
    assert _run([str(BIN / "wind-stack"), "down"], env, root).returncode == 0
    status = _run([str(BIN / "wind-stack"), "status"], env, root).stdout
    assert "postgres: stopped" in status and "api: stopped" in status
    assert _run([str(BIN / "wind-stack"), "up"], env, root).returncode == 0
    assert scalar(source, "SELECT count(*) FROM data") == 14_400

    # Crash: SIGKILL both processes; their pid files stay behind.
    stack = LocalStack(root / ".stack", root / ".env")
    postmaster, api = stack.postgres.postmaster_pid(), stack.api_pid()
    os.kill(api, signal.SIGKILL)
    os.kill(postmaster, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(postmaster)], timeout=10)
    time.sleep(0.5)  # let the orphaned backends notice the postmaster is gone
    assert (root / ".stack" / "pgdata" / "postmaster.pid").exists()

    result = _run([str(BIN / "wind-stack"), "up"], env, root)
    assert result.returncode == 0, result.stderr
    assert scalar(source, "SELECT count(*) FROM data") == 14_400
    assert httpx.get(f"{_dotenv(root)['WIND_API_URL']}/health").status_code == 200
