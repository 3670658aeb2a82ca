"""`/data`: the Source table over a half-open time range, for one or more variables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Text, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from api_service.db import SourceConnection
from api_service.models import VARIABLE_UNITS, source_table
from api_service.schemas import (
    CoverageResponse,
    DataColumnsResponse,
    DataFormat,
    DataRecordsResponse,
    ErrorResponse,
    Variable,
    VariableInfo,
)

router = APIRouter(tags=["data"])

_EMPTY_JSON_ARRAY = literal_column("'[]'::json")


def _as_utc(value: datetime) -> datetime:
    """Naive times are UTC; aware times keep their offset and are converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": None}]
    )


def _data_query(variables: list[str], layout: DataFormat, start: datetime, end: datetime):
    """One SQL statement that returns the row count and the JSON body, built by PostgreSQL."""
    t = source_table
    ordered = t.c.timestamp
    if layout is DataFormat.records:
        pairs = [literal("timestamp"), t.c.timestamp]
        for name in variables:
            pairs += [literal(name), t.c[name]]
        body = func.coalesce(
            func.json_agg(aggregate_order_by(func.json_build_object(*pairs), ordered)),
            _EMPTY_JSON_ARRAY,
        )
    else:
        pairs = []
        for name in ["timestamp", *variables]:
            pairs += [
                literal(name),
                func.coalesce(
                    func.json_agg(aggregate_order_by(t.c[name], ordered)), _EMPTY_JSON_ARRAY
                ),
            ]
        body = func.json_build_object(*pairs)
    return select(func.count(), cast(body, Text)).where(t.c.timestamp >= start, t.c.timestamp < end)


@router.get(
    "/data",
    summary="Source rows in a time range",
    description=(
        "Rows of the Source table `data` with `start <= timestamp < end`, ordered by time. "
        "Times are ISO-8601; a time without an offset is taken as UTC, an offset is honoured. "
        "Repeat `variables` to select several; none means all."
    ),
    response_model=DataRecordsResponse | DataColumnsResponse,
    responses={422: {"model": ErrorResponse, "description": "Invalid range or variable."}},
)
def read_data(
    request: Request,
    conn: SourceConnection,
    start: Annotated[
        datetime,
        Query(
            description="Inclusive start (ISO-8601; naive = UTC).",
            examples=["2024-01-05T00:00:00Z"],
        ),
    ],
    end: Annotated[
        datetime,
        Query(
            description="Exclusive end (ISO-8601; naive = UTC).", examples=["2024-01-06T00:00:00Z"]
        ),
    ],
    variables: Annotated[
        list[Variable] | None,
        Query(
            description="One or more variables; repeat the parameter. None given means all.",
            examples=[["wind_speed", "power"]],
        ),
    ] = None,
    format: Annotated[
        DataFormat,
        Query(description="`records` (a list of objects) or `columns` (one array per column)."),
    ] = DataFormat.records,
) -> Response:
    start_utc, end_utc = _as_utc(start), _as_utc(end)
    if start_utc >= end_utc:
        raise _invalid(
            "end", f"end ({end_utc.isoformat()}) must be after start ({start_utc.isoformat()})"
        )
    max_days = request.app.state.settings.max_range_days
    if end_utc - start_utc > timedelta(days=max_days):
        raise _invalid("end", f"the range may span at most {max_days} days")
    names = list(dict.fromkeys(v.value for v in variables)) if variables else list(VARIABLE_UNITS)

    row_count, body = conn.execute(_data_query(names, format, start_utc, end_utc)).one()
    head = json.dumps(
        {
            "start": start_utc.isoformat(),
            "end": end_utc.isoformat(),
            "variables": names,
            "row_count": row_count,
        }
    )
    # Splice PostgreSQL's JSON into the envelope: no per-row Python work.
    return Response(content=head[:-1] + ', "data": ' + body + "}", media_type="application/json")


@router.get(
    "/variables",
    summary="The variables a client may select",
    response_model=list[VariableInfo],
)
def list_variables() -> list[VariableInfo]:
    return [VariableInfo(name=name, unit=unit) for name, unit in VARIABLE_UNITS.items()]


@router.get(
    "/coverage",
    summary="The period of data the Source holds",
    response_model=CoverageResponse,
)
def coverage(conn: SourceConnection) -> CoverageResponse:
    t = source_table
    first, last, count = conn.execute(
        select(func.min(t.c.timestamp), func.max(t.c.timestamp), func.count())
    ).one()
    expected = int((last - first).total_seconds() // 60) + 1 if first is not None else 0
    return CoverageResponse(
        first_timestamp=first,
        last_timestamp=last,
        row_count=count,
        expected_minutes=expected,
        missing_minutes=max(expected - count, 0),
    )
