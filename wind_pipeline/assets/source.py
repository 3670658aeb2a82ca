"""`source_seed`: the Source database's `data` table, filled with synthetic turbine telemetry."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from wind_pipeline.resources import SourceDatabase
from wind_pipeline.source_data import (
    DEFAULT_RANDOM_SEED,
    DEFAULT_SEED_DAYS,
    DEFAULT_SEED_START,
    generate_turbine_data,
    seed_source,
    source_period,
)

SOURCE_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn("timestamp", "timestamptz", description="The minute (primary key)"),
        dg.TableColumn("wind_speed", "double precision", description="m/s"),
        dg.TableColumn("power", "double precision", description="kW"),
        dg.TableColumn("ambient_temperature", "double precision", description="degC"),
    ]
)


class SourceSeedConfig(dg.Config):
    """The window of synthetic data to seed; the defaults are the spec's ten days."""

    start_date: str = Field(
        default=DEFAULT_SEED_START.date().isoformat(),
        description="First UTC day of the seeded period (YYYY-MM-DD).",
    )
    end_date: str | None = Field(
        default=None,
        description=(
            "Last UTC day of the period (YYYY-MM-DD, or `today`). When set, it wins over "
            "start_date: the period is the `days` days ending that day (e.g. a window that "
            "ends today, for the schedule and the late-data sensor to keep up with)."
        ),
    )
    days: int = Field(default=DEFAULT_SEED_DAYS, ge=1, le=3660, description="Days to seed.")
    random_seed: int = Field(default=DEFAULT_RANDOM_SEED, description="Seed of the generator.")

    def first_day(self, today: date) -> date:
        """The period's first UTC day; a malformed date raises ValueError naming the field."""
        if self.end_date is not None:
            last = today if self.end_date == "today" else _parse_day("end_date", self.end_date)
            return last - timedelta(days=self.days - 1)
        return _parse_day("start_date", self.start_date)


def _parse_day(field: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"source_seed config {field}={text!r} is not a date: expected YYYY-MM-DD"
            + (" or `today`" if field == "end_date" else "")
        ) from None


@dg.asset(
    group_name="source",
    kinds={"postgres", "numpy"},
    owners=["team:data-engineering"],
    tags={"layer": "source"},
    metadata={"dagster/table_name": "data", "dagster/column_schema": SOURCE_COLUMNS},
)
def source_seed(
    context: dg.AssetExecutionContext, config: SourceSeedConfig, source_db: SourceDatabase
) -> dg.MaterializeResult:
    """The Source table `data`: one row a minute of wind speed, power and ambient temperature."""
    # Replaces the table's contents with the configured window (default 2024-01-01 for 10 days,
    # 14,400 rows) in one transaction, bulk-loaded with binary COPY; re-seeding never duplicates.
    try:
        first_day = config.first_day(datetime.now(UTC).date())
    except ValueError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    frame = generate_turbine_data(start, config.days, config.random_seed)
    rows = seed_source(source_db.engine, frame)
    period = source_period(source_db.engine)
    context.log.info(period.describe())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "period_first": period.first.isoformat() if period.first else None,
            "period_last": period.last.isoformat() if period.last else None,
            "random_seed": config.random_seed,
            # The checks compare the table with these (see wind_pipeline/checks/source.py).
            "config_start_date": first_day.isoformat(),
            "config_days": config.days,
            "config_end_date": config.end_date or "",
        }
    )
