"""`target_schema`: tables, keys and the eight signals, created by SQLAlchemy, idempotently."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import sqlalchemy as sa

from wind_pipeline.assets.target import target_schema
from wind_pipeline.domain import SIGNAL_NAMES
from wind_pipeline.resources import TargetDatabase


def test_schema_tables_keys_and_signals(new_database: Callable[[str], str]):
    url = new_database("schema")
    for _ in range(2):  # creating twice is harmless
        assert dg.materialize(
            [target_schema], resources={"target_db": TargetDatabase(url=url)}
        ).success

    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == {"signal", "data"}
    assert {c["name"] for c in inspector.get_columns("signal")} == {"id", "name"}
    assert {c["name"] for c in inspector.get_columns("data")} == {"timestamp", "signal_id", "value"}
    assert inspector.get_pk_constraint("data")["constrained_columns"] == ["signal_id", "timestamp"]
    (fk,) = inspector.get_foreign_keys("data")
    assert fk["referred_table"] == "signal" and fk["constrained_columns"] == ["signal_id"]
    assert any(u["column_names"] == ["name"] for u in inspector.get_unique_constraints("signal"))
    timestamp_type = next(
        c["type"] for c in inspector.get_columns("data") if c["name"] == "timestamp"
    )
    assert timestamp_type.timezone

    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM signal ORDER BY id")).scalars().all()
    engine.dispose()
    assert names == list(SIGNAL_NAMES)
    assert len(names) == 8


def test_foreign_key_rejects_unknown_signal(target_url: str):
    engine = sa.create_engine(target_url)
    with engine.connect() as conn:
        try:
            conn.execute(sa.text("INSERT INTO data VALUES (999, '2024-01-01T00:00Z', 1.0)"))
            raised = False
        except sa.exc.IntegrityError:
            raised = True
    engine.dispose()
    assert raised
