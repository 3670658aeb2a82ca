"""Single-run backfills: a range of days is one run that writes each day and records one
materialization, with its own metadata, and one verdict per check, for each partition.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from wind_pipeline.assets.aggregates import wind_10min_aggregates
from wind_pipeline_tests.support.faultkit import range_tags
from wind_pipeline_tests.support.helpers import etl_resources, scalar, table_snapshot

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
RANGE_TAGS = range_tags(DAYS[0], DAYS[-1])


def backfill(api_url: str, target_url: str, instance: dg.DagsterInstance):
    return dg.materialize(
        [wind_10min_aggregates],
        instance=instance,
        tags=RANGE_TAGS,
        resources=etl_resources(api_url, target_url),
        raise_on_error=False,
    )


def rows_per_day(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD') d, count(*) "
                "FROM data GROUP BY d ORDER BY d"
            )
        ).all()
    engine.dispose()
    return dict(rows)


def test_three_day_backfill_is_one_run_with_a_materialization_and_checks_per_day(
    api_url, target_url
):
    with dg.instance_for_test() as instance:
        result = backfill(api_url, target_url, instance)
        assert result.success
        assert len(instance.get_runs()) == 1
        assert rows_per_day(target_url) == dict.fromkeys(DAYS, 1152)

        materializations = {
            m.partition: m.metadata
            for m in result.asset_materializations_for_node("wind_10min_aggregates")
        }
        assert sorted(materializations) == DAYS
        fingerprints = set()
        for day, metadata in materializations.items():
            # Each partition carries its own numbers, not the run's totals.
            assert metadata["dagster/partition_row_count"].value == 1152
            assert metadata["dagster/row_count"].value == 3 * 1152
            assert metadata["rows_written"].value == 1152
            assert metadata["source_rows_read"].value == 1440
            assert metadata["source_minutes_present"].value == 1440
            assert metadata["source_minutes_missing"].value == 0
            assert metadata["window_start"].value == f"{day}T00:00:00+00:00"
            # One paged call read the run's three days; each day carries a third of its cost.
            assert metadata["api_requests"].value == 1
            assert metadata["api_call_days"].value == 3
            assert metadata["api_bytes"].value > 30_000
            assert metadata["run_days"].value == 3
            preview = metadata["buckets_preview"].value
            assert preview.startswith("| bucket (UTC) | wind_speed_mean |")
            assert "| 00:00 |" in preview and "138 more buckets" in preview
            chart = metadata["chart"].value
            prefix = "](data:image/svg+xml;base64,"
            svg = base64.b64decode(chart.split(prefix, 1)[1].rstrip(")")).decode()
            assert svg.startswith("<svg") and f"{day} (UTC)" in svg
            assert svg.count("<polyline") == 2, "one unbroken mean line per variable"
            fingerprints.add(metadata["source_fingerprint"].value)
        assert len(fingerprints) == 3, "each day's own Source fingerprint"

        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 4 * 3
        by_day = {day: {e.check_name for e in evaluations if e.partition == day} for day in DAYS}
        assert by_day == dict.fromkeys(
            DAYS, {"complete", "consistent", "matches_source", "source_coverage"}
        )
        assert all(e.passed for e in evaluations)

        # Repeating the backfill changes nothing in the Target.
        before = table_snapshot(target_url)
        again = backfill(api_url, target_url, instance)
        assert again.success
        assert table_snapshot(target_url) == before
        assert {
            m.partition: m.metadata["source_fingerprint"].value
            for m in again.asset_materializations_for_node("wind_10min_aggregates")
        } == {day: meta["source_fingerprint"].value for day, meta in materializations.items()}


def test_cli_partition_range_is_one_run(
    api_url, target_url, tmp_path: Path, monkeypatch, new_database
):
    """On the instance `wind-stack up` writes (PostgreSQL, the pooled event log, batched
    materialization events): one run, and Dagster's own partition and check status per day."""
    from wind_stack.dagster_instance import dagster_instance_yaml

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_instance_yaml(new_database("dagster_cli")))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_MODULE_NAME": "wind_pipeline.definitions",
        "WIND_API_URL": api_url,
        "WIND_TARGET_DB_URL": target_url,
        "WIND_SOURCE_DB_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/unused",
    }
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "--select",
        "wind_10min_aggregates",
        "--partition-range",
        f"{DAYS[0]}...{DAYS[-1]}",
    ]
    # Run outside the repo so the repo's own `.env` cannot leak into the settings.
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert rows_per_day(target_url) == dict.fromkeys(DAYS, 1152)
    assert scalar(target_url, "SELECT count(*) FROM data") == 3 * 1152

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.tags["dagster/asset_partition_range_start"] == DAYS[0]
        assert run.tags["dagster/asset_partition_range_end"] == DAYS[-1]
        partitions = sorted(
            record.partition_key
            for record in instance.fetch_materializations(
                wind_10min_aggregates.key, limit=100
            ).records
        )
        assert partitions == DAYS
        checks = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        assert len(checks) == 4 * 3, "the CLI run checks every day too"
        # What the UI's partition bar and check status read, from the batched events.
        key = wind_10min_aggregates.key
        assert instance.get_materialized_partitions(key) == set(DAYS)
        complete = dg.AssetCheckKey(key, "complete")
        history = instance.event_log_storage.get_asset_check_execution_history(complete, limit=10)
        assert sorted(r.partition for r in history) == DAYS
        assert {r.status.value for r in history} == {"SUCCEEDED"}
