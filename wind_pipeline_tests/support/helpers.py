"""Small helpers the tests share."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import sqlalchemy as sa


def table_snapshot(url: str) -> list[tuple]:
    """Every row of the Target's `data`, ordered: to compare a table before and after."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT signal_id, timestamp, value FROM data ORDER BY signal_id, timestamp")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def scalar(url: str, sql: str, **params: object) -> object:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


def seed(url: str, frame) -> int:
    """Make the Source table at `url` hold exactly `frame` (the production seeder)."""
    from wind_pipeline.source_data import seed_source

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return seed_source(engine, frame)
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: object) -> int:
    """Run one statement in its own transaction; return the affected row count."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        count = conn.execute(sa.text(sql), params).rowcount
    engine.dispose()
    return count


REPO_ROOT = Path(__file__).resolve().parents[2]


def etl_resources(api_url: str, target_url: str) -> dict[str, object]:
    """The Conektor client (short retry delays) and Target resources of a pipeline test run."""
    from wind_pipeline.resources import ConektorClient, TargetDatabase

    return {
        "conektor": ConektorClient(base_url=api_url, backoff_seconds=0.05),
        "target_db": TargetDatabase(url=target_url),
    }


def stop_process_group(process: subprocess.Popen) -> None:
    """Ctrl-C to a server started with `start_new_session=True` (all its processes), then
    SIGKILL if it has not stopped within 30 s."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
