"""What the Conektor accepts as a time, and the span of times it can serve.

Only ISO-8601 is a time. pydantic alone would also read numbers as Unix time (`20240105`
became 1970-08-23T06:15:05Z), so the text must begin with a calendar date `YYYY-MM-DD`.

Stored timestamps have PostgreSQL's resolution, one microsecond. A finer fraction cannot be
held by Python and pydantic would drop it, which moved `start` back onto a row the range
excludes. `start` and `end` are therefore rounded *up* to the next microsecond: for times
in whole microseconds, `t >= start` and `t < end` select exactly the same rows after that
rounding, so `[start, end)` holds. A `cursor` means "strictly after" and is rounded down
(`t > cursor` is unchanged by dropping the excess), which is what truncation does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
    "Numbers (Unix seconds or milliseconds, `20240105`) get a 422. The Source keeps "
    "microseconds: a finer fraction in `start` or `end` is rounded up to the next "
    "microsecond, which selects exactly the rows of `[start, end)`; in `cursor` it is dropped "
    "(rows strictly after it are the same). A time that falls outside "
    "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z once converted to UTC gets a 422."
)

_CALENDAR_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]|$)")
_FRACTION = re.compile(r"(?<=:\d{2}[.,])\d{7,}")


def _split_fraction(text: str) -> tuple[str, bool]:
    """The text with its fraction cut to microseconds, and whether a non-zero rest was cut."""
    match = _FRACTION.search(text)
    if match is None:
        return text, False
    digits = match.group()
    return text[: match.start()] + digits[:6] + text[match.end() :], digits[6:].strip("0") != ""


def _parser(round_up: bool):
    def parse(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
        if isinstance(value, datetime):  # a default, or a call from Python
            return value
        text = value.strip() if isinstance(value, str) else ""
        if not _CALENDAR_DATE.match(text):
            raise PydanticCustomError("iso_datetime", "expected " + ACCEPTED_FORMS)
        text, cut = _split_fraction(text)
        try:
            parsed: datetime = handler(text)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix(
                "Input should be a valid datetime or date, "
            )
            raise PydanticCustomError(
                "iso_datetime", "{reason}; expected " + ACCEPTED_FORMS, {"reason": reason}
            ) from None
        if cut and round_up:
            try:
                parsed += timedelta(microseconds=1)
            except OverflowError:
                raise PydanticCustomError(
                    "iso_datetime", "out of range once rounded up to whole microseconds"
                ) from None
        return parsed

    return parse


# `start` and `end`: a finer fraction rounds up. `cursor`: it is dropped.
RangeTime = Annotated[datetime, WrapValidator(_parser(round_up=True))]
CursorTime = Annotated[datetime, WrapValidator(_parser(round_up=False))]
