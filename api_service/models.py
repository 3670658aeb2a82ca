"""The Source database's table, owned by the Conektor (the seeder writes the same model)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class SourceBase(DeclarativeBase):
    pass


class SourceData(SourceBase):
    """One row a minute of turbine telemetry."""

    __tablename__ = "data"

    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    wind_speed: Mapped[float | None] = mapped_column(Double)
    power: Mapped[float | None] = mapped_column(Double)
    ambient_temperature: Mapped[float | None] = mapped_column(Double)


source_table = SourceData.__table__

# The variables a client may select, with their units (the table's non-key columns).
VARIABLE_UNITS: dict[str, str] = {
    "wind_speed": "m/s",
    "power": "kW",
    "ambient_temperature": "degC",
}
assert set(VARIABLE_UNITS) == {c.name for c in source_table.columns} - {"timestamp"}
