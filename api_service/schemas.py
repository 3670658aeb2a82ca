"""Pydantic schemas for the Conektor's inputs and outputs (they document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from api_service.models import VARIABLE_UNITS

Variable = StrEnum("Variable", {name: name for name in VARIABLE_UNITS})
Variable.__doc__ = "A column of the Source table `data`."

CSV_MEDIA_TYPE = "text/csv"
JSON_MEDIA_TYPE = "application/json"


class DataFormat(StrEnum):
    """How `/data` lays out its rows."""

    records = "records"
    columns = "columns"
    csv = "csv"


_NEXT_DESCRIPTION = (
    "URL of the next page (same query, plus `cursor`), or null when this page is the last. "
    'Also sent as the `Link: <...>; rel="next"` header.'
)
_NEXT_EXAMPLE = (
    "http://127.0.0.1:8765/data?start=2024-01-01T00%3A00%3A00Z&end=2025-01-01T00%3A00%3A00Z"
    "&limit=100000&cursor=2024-03-10T10%3A39%3A00%2B00%3A00"
)


class DataRecordsResponse(BaseModel):
    start: datetime = Field(description="Inclusive start of the range (UTC).")
    end: datetime = Field(description="Exclusive end of the range (UTC).")
    variables: list[str] = Field(description="The variables returned, in order.")
    row_count: int = Field(description="Number of rows in `data` (this page).")
    next: str | None = Field(description=_NEXT_DESCRIPTION, examples=[None, _NEXT_EXAMPLE])
    data: list[dict[str, float | str | None]] = Field(
        description="One object per minute: `timestamp` plus each variable.",
        examples=[[{"timestamp": "2024-01-05T00:00:00+00:00", "wind_speed": 7.2, "power": 812.5}]],
    )


class DataColumnsResponse(BaseModel):
    start: datetime = Field(description="Inclusive start of the range (UTC).")
    end: datetime = Field(description="Exclusive end of the range (UTC).")
    variables: list[str] = Field(description="The variables returned, in order.")
    row_count: int = Field(description="Length of every array in `data` (this page).")
    next: str | None = Field(description=_NEXT_DESCRIPTION, examples=[None, _NEXT_EXAMPLE])
    data: dict[str, list[float | str | None]] = Field(
        description="One array per column (`timestamp` plus each variable), all of length row_count.",
        examples=[
            {"timestamp": ["2024-01-05T00:00:00+00:00"], "wind_speed": [7.2], "power": [812.5]}
        ],
    )


class CoverageResponse(BaseModel):
    first_timestamp: datetime | None = Field(
        description="Earliest row `/data` can serve, or null if there is none."
    )
    last_timestamp: datetime | None = Field(
        description="Latest row `/data` can serve, or null if there is none."
    )
    row_count: int = Field(description="Rows from first_timestamp to last_timestamp.")
    minutes_present: int = Field(
        description="Whole UTC minutes holding at least one row (12:00:30 counts as 12:00)."
    )
    expected_minutes: int = Field(
        description="Whole UTC minutes from first_timestamp's to last_timestamp's, inclusive."
    )
    missing_minutes: int = Field(description="expected_minutes - minutes_present.")
    out_of_range_rows: int = Field(
        description=(
            "Rows whose timestamp lies outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z "
            "(BC dates, years from 10000 on, +/-infinity): not counted above, never served."
        )
    )


class VariableInfo(BaseModel):
    name: str = Field(description="The name to pass as `variables` to `/data`.")
    unit: str = Field(description="Unit of the values.", examples=["m/s"])


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ErrorResponse(BaseModel):
    detail: str | list[dict] = Field(description="What went wrong.")
