"""What the Conektor accepts as a time, and the span of times it can serve.

Only ISO-8601 is a time. pydantic alone would also read numbers as Unix time (`20240105`
became 1970-08-23T06:15:05Z), so the text must begin with a calendar date `YYYY-MM-DD`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

# The span of timestamps Python (and so an ISO-8601 query) can address. PostgreSQL also
# stores BC dates, years from 10000 on and +/-infinity: those rows are outside it.
FIRST_TIME = datetime.min.replace(tzinfo=UTC)
LAST_TIME = datetime.max.replace(tzinfo=UTC)

ACCEPTED_FORMS = (
    "an ISO-8601 time: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] with an optional "
    "Z or +HH:MM offset (none means UTC), e.g. 2024-01-05T00:00:00Z; "
    "numbers such as Unix seconds or 20240105 are not times"
)

TIME_RULES = (
    "**Times** are ISO-8601 and nothing else: `YYYY-MM-DD` (midnight), or "
    "`YYYY-MM-DDTHH:MM[:SS[.ffffff]]` with an optional `Z` or `+HH:MM` offset. A time without "
    "an offset is UTC; an offset is honoured (`2024-01-05T01:00+01:00` is `2024-01-05T00:00Z`). "
    "Numbers (Unix seconds or milliseconds, `20240105`) get a 422. A time that falls outside "
    "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z once converted to UTC gets a 422."
)

_CALENDAR_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]|$)")


def _parse(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    if isinstance(value, datetime):  # a default, or a call from Python
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not _CALENDAR_DATE.match(text):
        raise PydanticCustomError("iso_datetime", "expected " + ACCEPTED_FORMS)
    try:
        return handler(text)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Input should be a valid datetime or date, ")
        raise PydanticCustomError(
            "iso_datetime", "{reason}; expected " + ACCEPTED_FORMS, {"reason": reason}
        ) from None


IsoTime = Annotated[datetime, WrapValidator(_parse)]
