"""`/variables` and `/coverage`: what a client may ask for, and the period the Source holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import and_, exists, func, select

from api_service.db import SourceConnection
from api_service.models import VARIABLE_UNITS, source_table
from api_service.schemas import CoverageResponse, ErrorResponse, VariableInfo
from api_service.times import FIRST_TIME, LAST_TIME

router = APIRouter(tags=["data"])

MINUTE_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # any whole UTC minute


@router.get(
    "/variables",
    summary="The variables a client may select",
    description="The Source table's value columns, with their units: the names `/data` accepts.",
    response_model=list[VariableInfo],
)
def list_variables() -> list[VariableInfo]:
    return [VariableInfo(name=name, unit=unit) for name, unit in VARIABLE_UNITS.items()]


@router.get(
    "/coverage",
    summary="The period of data the Source holds",
    description=(
        "First and last timestamp, the row count, and the period's whole UTC minutes: how "
        "many it spans (expected), hold at least one row (present) and hold none (missing); "
        "a row off the minute (12:00:30) counts toward its minute, never toward another. Rows whose timestamp no ISO-8601 "
        "query can address (before 0001-01-01T00:00:00Z or after 9999-12-31T23:59:59.999999Z: "
        "BC dates, years from 10000 on, +/-infinity, all of which PostgreSQL stores) are left "
        "out of the period and counted in `out_of_range_rows`; `/data` never returns them."
    ),
    response_model=CoverageResponse,
    responses={503: {"model": ErrorResponse, "description": "The Source database is unavailable."}},
)
def coverage(conn: SourceConnection) -> CoverageResponse:
    t = source_table
    earlier = source_table.alias("earlier")
    # Filtered in SQL: such a timestamp cannot even be read into Python.
    in_range = t.c.timestamp.between(FIRST_TIME, LAST_TIME)
    # A row that is not the first of its whole minute (UTC) adds no minute: 12:00:30 beside
    # 12:00 fills nothing, and cannot hide a missing 12:01. Only an off-minute row can have
    # an earlier row in its minute, so the index probe runs for those alone.
    minute = func.date_bin(timedelta(minutes=1), t.c.timestamp, MINUTE_ORIGIN)
    not_first_in_minute = and_(
        in_range,
        minute != t.c.timestamp,
        exists().where(earlier.c.timestamp >= minute, earlier.c.timestamp < t.c.timestamp),
    )
    first, last, count, repeats, out_of_range = conn.execute(
        select(
            func.min(t.c.timestamp).filter(in_range),
            func.max(t.c.timestamp).filter(in_range),
            func.count().filter(in_range),
            func.count().filter(not_first_in_minute),
            func.count().filter(~in_range),
        )
    ).one()
    minutes = count - repeats
    expected = _minute(last) - _minute(first) + 1 if first is not None else 0
    return CoverageResponse(
        first_timestamp=first,
        last_timestamp=last,
        row_count=count,
        minutes_present=minutes,
        expected_minutes=expected,
        missing_minutes=expected - minutes,
        out_of_range_rows=out_of_range,
    )


def _minute(value: datetime) -> int:
    """Whole minutes since MINUTE_ORIGIN (the minute holding `value`)."""
    return (value - MINUTE_ORIGIN) // timedelta(minutes=1)
