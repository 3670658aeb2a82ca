"""The `/data` page query: keyset paging, with PostgreSQL writing the response body.

One statement returns a page's row count, its last timestamp, whether more rows follow,
and the body already serialised (JSON or CSV), so the API does no per-row work in Python
and holds at most one page in memory. Every value is a bound parameter; column names come
from the table's model, never from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Text,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from api_service.models import source_table
from api_service.schemas import DataFormat

_EMPTY_JSON_ARRAY = literal_column("'[]'::json")


@dataclass(frozen=True)
class PageRequest:
    """Rows with start <= timestamp < end (and timestamp > after), at most `limit` of them."""

    start: datetime
    end: datetime
    variables: list[str]
    layout: DataFormat
    limit: int
    after: datetime | None = None


def page_statement(page: PageRequest) -> Select:
    """SELECT row_count, last_timestamp, has_more, body for one page."""
    t = source_table
    conditions = [t.c.timestamp >= page.start, t.c.timestamp < page.end]
    if page.after is not None:
        conditions.append(t.c.timestamp > page.after)
    rows = (
        select(t.c.timestamp, *(t.c[name] for name in page.variables))
        .where(*conditions)
        .order_by(t.c.timestamp)
        .limit(page.limit)
        .subquery("page")
    )
    # Is there a row past this page? The index scan stops at the first one.
    has_more = exists(
        select(t.c.timestamp).where(*conditions).order_by(t.c.timestamp).offset(page.limit)
    )
    return select(
        func.count().label("row_count"),
        func.max(rows.c.timestamp).label("last_timestamp"),
        has_more.label("has_more"),
        cast(_body(rows, page.variables, page.layout), Text).label("body"),
    )


def _body(rows: Subquery, variables: list[str], layout: DataFormat) -> ColumnElement:
    # The aggregates' ORDER BY matches the page's order, so PostgreSQL does not sort again;
    # a FILTER clause would defeat that, which is why the page holds no look-ahead row.
    ts = rows.c.timestamp
    if layout is DataFormat.records:
        pairs: list[ColumnElement] = [literal("timestamp"), ts]
        for name in variables:
            pairs += [literal(name), rows.c[name]]
        return func.coalesce(
            func.json_agg(aggregate_order_by(func.json_build_object(*pairs), ts)),
            _EMPTY_JSON_ARRAY,
        )
    if layout is DataFormat.columns:
        pairs = []
        for name in ["timestamp", *variables]:
            pairs += [
                literal(name),
                func.coalesce(
                    func.json_agg(aggregate_order_by(rows.c[name], ts)), _EMPTY_JSON_ARRAY
                ),
            ]
        return func.json_build_object(*pairs)
    # CSV lines: PostgreSQL's own text output (ISO times in UTC, shortest exact floats);
    # concat() writes NULL as an empty field.
    fields: list[ColumnElement] = [ts]
    for name in variables:
        fields += [literal(","), rows.c[name]]
    line = func.concat(*fields, literal("\n"))
    return func.coalesce(func.string_agg(line, aggregate_order_by(literal(""), ts)), literal(""))


def csv_header(variables: list[str]) -> str:
    return ",".join(["timestamp", *variables]) + "\n"
