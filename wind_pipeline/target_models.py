"""The Target database's schema: SQLAlchemy 2.0 typed models, and the signals the ETL writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, Engine, ForeignKey, Integer, String, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from wind_pipeline.domain import SIGNAL_NAMES


class TargetBase(DeclarativeBase):
    pass


class Signal(TargetBase):
    """A named series in the Target, e.g. `wind_speed_mean`."""

    __tablename__ = "signal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)

    values: Mapped[list[Data]] = relationship(back_populates="signal", passive_deletes=True)


class Data(TargetBase):
    """One 10-minute value of one signal, labelled by the bucket's start (UTC)."""

    __tablename__ = "data"

    # (signal_id, timestamp) as the key: a signal's values are read by time range.
    signal_id: Mapped[int] = mapped_column(
        ForeignKey("signal.id", ondelete="CASCADE"), primary_key=True
    )
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)

    signal: Mapped[Signal] = relationship(back_populates="values")


def create_target_schema(engine: Engine) -> dict[str, int]:
    """Create the tables if missing and make sure the eight signals exist; return name -> id.

    Idempotent: safe to run any number of times, concurrently too.
    """
    TargetBase.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Signal)
            .values([{"name": name} for name in SIGNAL_NAMES])
            .on_conflict_do_nothing(index_elements=["name"])
        )
    return signal_ids(engine)


def signal_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Signal.name, Signal.id).where(Signal.name.in_(SIGNAL_NAMES)))
        return {name: id_ for name, id_ in rows}
