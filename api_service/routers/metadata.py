"""`/variables` and `/coverage`: what a client may ask for, and the period the Source holds."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from api_service.db import SourceConnection
from api_service.models import VARIABLE_UNITS, source_table
from api_service.schemas import CoverageResponse, ErrorResponse, VariableInfo
from api_service.times import FIRST_TIME, LAST_TIME

router = APIRouter(tags=["data"])


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
        "First and last timestamp, the row count, and how many one-minute rows the period "
        "should hold (expected) and does not (missing). Rows whose timestamp no ISO-8601 "
        "query can address (before 0001-01-01T00:00:00Z or after 9999-12-31T23:59:59.999999Z: "
        "BC dates, years from 10000 on, +/-infinity, all of which PostgreSQL stores) are left "
        "out of the period and counted in `out_of_range_rows`; `/data` never returns them."
    ),
    response_model=CoverageResponse,
    responses={503: {"model": ErrorResponse, "description": "The Source database is unavailable."}},
)
def coverage(conn: SourceConnection) -> CoverageResponse:
    t = source_table
    # Filtered in SQL: such a timestamp cannot even be read into Python.
    in_range = t.c.timestamp.between(FIRST_TIME, LAST_TIME)
    first, last, count, out_of_range = conn.execute(
        select(
            func.min(t.c.timestamp).filter(in_range),
            func.max(t.c.timestamp).filter(in_range),
            func.count().filter(in_range),
            func.count().filter(~in_range),
        )
    ).one()
    expected = int((last - first).total_seconds() // 60) + 1 if first is not None else 0
    return CoverageResponse(
        first_timestamp=first,
        last_timestamp=last,
        row_count=count,
        expected_minutes=expected,
        missing_minutes=max(expected - count, 0),
        out_of_range_rows=out_of_range,
    )
