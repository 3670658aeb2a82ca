"""`/data`: the Source table over a half-open time range, for one or more variables, paged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from api_service.db import SourceConnection
from api_service.http import accept_quality
from api_service.models import VARIABLE_UNITS
from api_service.queries import PageRequest, csv_header, page_statement
from api_service.schemas import (
    CSV_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    DataColumnsResponse,
    DataFormat,
    DataRecordsResponse,
    ErrorResponse,
    Variable,
)
from api_service.times import (
    ACCEPTED_FORMS,
    FIRST_TIME,
    LAST_TIME,
    TIME_RULES,
    CursorTime,
    RangeTime,
)

router = APIRouter(tags=["data"])

# A page is built in memory (by PostgreSQL, then once by the API), so its size is capped:
# 100,000 rows of three variables are ~11 MB as JSON records, ~5 MB as CSV.
MAX_PAGE_ROWS = 100_000

_CSV_EXAMPLE = (
    "timestamp,wind_speed,power\n"
    "2024-01-05 00:00:00+00,7.2,812.5\n"
    "2024-01-05 00:01:00+00,7.05,790.13\n"
)

DATA_DESCRIPTION = f"""
Rows of the Source table `data` with `start <= timestamp < end`, ordered by time.

{TIME_RULES}

**Variables**: repeat `variables` to select several; none means all.

**Representations** (`format`, or the `Accept` header when `format` is absent):
- `records` (default): JSON, one object per row; the human-friendly form.
- `columns`: JSON, one array per column.
- `csv` (or `Accept: text/csv`): `text/csv` with a header line, the bulk form for machines
  (the smallest and fastest to produce and parse; the ETL uses it). Times are written as
  `2024-01-05 00:00:00+00` (RFC 3339 with a space), a missing value as an empty field.

**Paging**: a response holds at most `limit` rows (at most {MAX_PAGE_ROWS:,}). When more rows
follow, the JSON body's `next` and the `Link: <...>; rel="next"` header give the URL of the
next page: the same query plus a `cursor` (keyset paging on `timestamp`, so pages never
overlap or skip rows, however many there are). Without `limit` the range may span at most
`WIND_API_MAX_RANGE_DAYS` days (31 by default) and the page size is {MAX_PAGE_ROWS:,}; with
`limit` any range can be walked page by page.
"""


def _invalid(field: str, message: str, value: object = None) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": value}]
    )


# Parameters that take one value: a repeat is refused rather than letting the last one win.
SINGLE_VALUED = ("start", "end", "format", "limit", "cursor")


def _reject_repeats(request: Request) -> None:
    for name in SINGLE_VALUED:
        if len(request.query_params.getlist(name)) > 1:
            raise _invalid(name, f"{name} may be given only once")


def _to_utc(value: datetime, field: str) -> datetime:
    """Naive times are UTC; aware times keep their offset and are converted to UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise _invalid(
            field, f"{field} is out of range once converted to UTC", value.isoformat()
        ) from None


def _negotiate(format: DataFormat | None, accept: str | None) -> DataFormat:
    """`format` when given; else CSV when `Accept` prefers it to JSON (by q-value), else JSON.

    A q of 0 means "not acceptable": `text/csv;q=0` never gets CSV. When `Accept` refuses
    both (`application/json;q=0`, `*/*;q=0`) the answer is 406. A header naming neither
    (`text/html`) is disregarded, as RFC 9110 allows, and gets the default, JSON records.
    """
    if format is not None:
        return format
    q_json = accept_quality(accept, JSON_MEDIA_TYPE)
    q_csv = accept_quality(accept, CSV_MEDIA_TYPE)
    if q_csv and q_csv > (q_json or 0.0):
        return DataFormat.csv
    if q_json == 0.0 and not q_csv:
        raise HTTPException(
            406,
            f"Accept refuses every representation of /data: it offers {JSON_MEDIA_TYPE} "
            f"(format=records or columns) and {CSV_MEDIA_TYPE} (format=csv)",
        )
    return DataFormat.records


def cross_parameter_rules(max_days: int) -> list[dict[str, object]]:
    """The rules OpenAPI's per-parameter schemas cannot express; `error` is what the 422 says."""
    return [
        {"parameters": ["start", "end"], "rule": "end > start", "error": "must be after start"},
        {
            "parameters": ["start", "end", "limit"],
            "rule": f"without limit, end - start <= {max_days} days (WIND_API_MAX_RANGE_DAYS)",
            "error": "may span at most",
        },
        {
            "parameters": ["start", "end", "cursor"],
            "rule": f"{FIRST_TIME.isoformat()} <= time <= {LAST_TIME.isoformat()} once converted "
            "to UTC (and, for start and end, rounded up to whole microseconds)",
            "error": "out of range",
        },
    ]


def document_rules(openapi: dict, max_days: int) -> None:
    """State the cross-parameter rules in the OpenAPI: in the 422's description, and as
    `x-cross-parameter-rules` on `GET /data` for tools."""
    operation = openapi["paths"]["/data"]["get"]
    rules = cross_parameter_rules(max_days)
    operation["x-cross-parameter-rules"] = rules
    operation["responses"]["422"]["description"] = (
        "Invalid input: a time that is not ISO-8601, an unknown variable, a page size out of "
        "range, a repeated parameter, or one of these rules broken (the message quotes it): "
        + "; ".join(f"{rule['rule']} ('{rule['error']}')" for rule in rules)
        + "."
    )


@router.get(
    "/data",
    summary="Source rows in a time range",
    description=DATA_DESCRIPTION,
    response_model=DataRecordsResponse | DataColumnsResponse,
    responses={
        200: {
            "description": "One page of rows.",
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
            "headers": {
                "Link": {
                    "description": 'The next page, as `<URL>; rel="next"`, when there is one.',
                    "schema": {"type": "string"},
                }
            },
        },
        406: {"model": ErrorResponse, "description": "`Accept` refuses both JSON and CSV."},
        422: {"model": ErrorResponse, "description": "Invalid range, variable or page size."},
        503: {"model": ErrorResponse, "description": "The Source database is unavailable."},
    },
)
def read_data(
    request: Request,
    conn: SourceConnection,
    start: Annotated[
        RangeTime,
        Query(
            description=f"Inclusive start: {ACCEPTED_FORMS}.",
            examples=["2024-01-05T00:00:00Z"],
        ),
    ],
    end: Annotated[
        RangeTime,
        Query(
            description=f"Exclusive end, after `start`: {ACCEPTED_FORMS}.",
            examples=["2024-01-06T00:00:00Z"],
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
        DataFormat | None,
        Query(
            description=(
                "`records` (default: a list of objects), `columns` (one array per column) or "
                "`csv` (text/csv, the bulk form). When absent, the `Accept` header decides by "
                "q-value: csv when it prefers text/csv to application/json (`text/csv;q=0` "
                "refuses csv), 406 when it refuses both, JSON records otherwise."
            ),
            examples=["csv"],
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PAGE_ROWS,
            description=(
                f"Rows per page (1 to {MAX_PAGE_ROWS:,}). Given, any range may be read, page by "
                f"page; absent, the range may span at most WIND_API_MAX_RANGE_DAYS days (31 by "
                f"default; this server's limit is in the 422's description)."
            ),
            examples=[100_000],
        ),
    ] = None,
    cursor: Annotated[
        CursorTime | None,
        Query(
            description=(
                "Keyset cursor: only rows strictly after this time. Take it from `next`; it is "
                "the timestamp of the previous page's last row."
            ),
            examples=["2024-03-10T10:39:00+00:00"],
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    _reject_repeats(request)
    start_utc, end_utc = _to_utc(start, "start"), _to_utc(end, "end")
    after = _to_utc(cursor, "cursor") if cursor is not None else None
    if start_utc >= end_utc:
        raise _invalid(
            "end", f"end ({end_utc.isoformat()}) must be after start ({start_utc.isoformat()})"
        )
    max_days = request.app.state.settings.max_range_days
    if limit is None and end_utc - start_utc > timedelta(days=max_days):
        raise _invalid(
            "end",
            f"the range may span at most {max_days} days without `limit`; "
            f"to read a longer range, pass limit (at most {MAX_PAGE_ROWS}) and follow `next`",
        )
    layout = _negotiate(format, accept)
    names = list(dict.fromkeys(v.value for v in variables)) if variables else list(VARIABLE_UNITS)
    page = PageRequest(start_utc, end_utc, names, layout, limit or MAX_PAGE_ROWS, after)

    row_count, last, has_more, body = conn.execute(page_statement(page)).one()
    next_url = str(request.url.include_query_params(cursor=last.isoformat())) if has_more else None
    headers = {"Vary": "Accept"}  # the representation may depend on it
    if next_url:
        headers["Link"] = f'<{next_url}>; rel="next"'
    if layout is DataFormat.csv:
        return Response(csv_header(names) + body, media_type=CSV_MEDIA_TYPE, headers=headers)
    head = json.dumps(
        {
            "start": start_utc.isoformat(),
            "end": end_utc.isoformat(),
            "variables": names,
            "row_count": row_count,
            "next": next_url,
        }
    )
    # Splice PostgreSQL's JSON into the envelope: no per-row Python work.
    return Response(
        head[:-1] + ', "data": ' + body + "}", media_type="application/json", headers=headers
    )
