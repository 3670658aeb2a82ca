"""The bootstrap service's command, run natively with its compose environment and the committed
dagster.yaml: it materializes source_seed and target_schema into Dagster's Postgres storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from wind_pipeline_tests.support.deployment import (
    compose_config,
    image_environment,
    make_dagster_home,
    run_command,
    service_environment,
    storage_values,
)
from wind_pipeline_tests.support.helpers import execute, scalar

UNREACHABLE_DB = "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"
_RUNS = "SELECT count(*) FROM runs WHERE pipeline_name = 'bootstrap_job'"


class Bootstrap:
    def __init__(self, workdir: Path, dagster_url: str, source_url: str, target_url: str):
        self.service = compose_config()["services"]["bootstrap"]
        self.workdir = workdir
        self.home = make_dagster_home(workdir / "dagster_home")  # the committed file, verbatim
        self.dagster_url = dagster_url
        self.storage = storage_values(dagster_url)
        self.env = service_environment(
            self.service,
            {
                **self.storage,
                "WIND_SOURCE_DB_URL": source_url,
                "WIND_TARGET_DB_URL": target_url,
            },
            image_environment(self.home, workdir / "compute_logs"),
        )

    def run(self, *extra: str, env: dict[str, str] | None = None):
        return run_command(
            [*self.service["command"], *extra], env or self.env, cwd=self.workdir, timeout=240
        )

    def instance(self, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
        for key, value in self.storage.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_DIR", str(self.workdir / "compute_logs"))
        return dg.DagsterInstance.from_config(str(self.home))


@pytest.fixture
def bootstrap(tmp_path, new_database: Callable[[str], str]) -> Bootstrap:
    return Bootstrap(
        tmp_path, new_database("dagster"), new_database("source"), new_database("target")
    )


def test_bootstrap_materializes_the_sources_once(bootstrap, monkeypatch):
    source, target = bootstrap.env["WIND_SOURCE_DB_URL"], bootstrap.env["WIND_TARGET_DB_URL"]

    first = bootstrap.run()
    assert first.returncode == 0, first.stderr
    assert "done: the source holds 14,400 rows from 2024-01-01T00:00Z to 2024-01-10T23:59Z" in (
        first.stdout
    )
    assert scalar(source, "SELECT count(*) FROM data") == 14_400
    assert scalar(target, "SELECT count(*) FROM signal") == 8

    with bootstrap.instance(monkeypatch) as instance:
        runs = instance.get_runs()
        assert [(r.job_name, r.is_success, r.tags.get("wind/trigger")) for r in runs] == [
            ("bootstrap_job", True, "bootstrap")
        ]
        for key in ("source_seed", "target_schema"):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.run_id == runs[0].run_id, key
    assert scalar(bootstrap.dagster_url, _RUNS) == 1

    # `docker compose up` again: nothing to do, nothing re-seeded.
    second = bootstrap.run()
    assert second.returncode == 0, second.stderr
    assert "already done, skipping" in second.stdout
    assert scalar(bootstrap.dagster_url, _RUNS) == 1

    # The Source lost its rows (e.g. its volume was recreated): the next start seeds it again.
    execute(source, "DELETE FROM data")
    third = bootstrap.run()
    assert third.returncode == 0, third.stderr
    assert "done:" in third.stdout
    assert scalar(source, "SELECT count(*) FROM data") == 14_400
    assert scalar(bootstrap.dagster_url, _RUNS) == 2

    forced = bootstrap.run("--force")
    assert forced.returncode == 0, forced.stderr
    assert scalar(bootstrap.dagster_url, _RUNS) == 3
    assert scalar(source, "SELECT count(*) FROM data") == 14_400


def test_bootstrap_with_an_unreachable_target_fails_in_one_line(bootstrap):
    env = {**bootstrap.env, "WIND_TARGET_DB_URL": UNREACHABLE_DB}
    result = bootstrap.run(env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bootstrap: bootstrap_job failed (run ")
    assert "target_schema: " in lines[0] and "port 1 failed" in lines[0]
    assert "Traceback" not in result.stderr


def test_bootstrap_needs_dagster_home(bootstrap):
    env = {k: v for k, v in bootstrap.env.items() if k != "DAGSTER_HOME"}
    result = bootstrap.run(env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bootstrap: DAGSTER_HOME is not set (the folder holding dagster.yaml)"
    )


def test_bootstrap_with_a_malformed_url_names_the_variable(bootstrap):
    env = {**bootstrap.env, "WIND_SOURCE_DB_URL": "mysql://nope"}
    result = bootstrap.run(env=env)
    assert result.returncode == 2
    assert "WIND_SOURCE_DB_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
