"""`wind-etl DATE`: the stand-alone ETL for one UTC day, the same code as the Dagster asset."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime

from sqlalchemy.exc import SQLAlchemyError

from wind_pipeline.db import make_engine
from wind_pipeline.domain import FIRST_PARTITION_DAY, FIXED_LAST_DAY
from wind_pipeline.etl.conektor_client import (
    ConektorRequestError,
    ConektorSession,
    ConektorUnavailable,
)
from wind_pipeline.etl.load import TargetBusy, TargetSchemaMissing
from wind_pipeline.etl.pipeline import EmptySourceDay, run_etl
from wind_pipeline.settings import (
    ConfigurationError,
    load_settings,
    mask_passwords,
    redact,
    settings_secrets,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parse_day(text: str, live: bool, today: date | None = None) -> date:
    """A partition day: YYYY-MM-DD, from the first partition up to the design card's last day, or
    up to yesterday (UTC) in live mode: the days the Dagster asset has partitions for."""
    # Only a calendar date: `date.fromisoformat` also takes 20240105 and week dates (2024-W01-5).
    try:
        if not _CALENDAR_DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD, e.g. 2024-01-05") from None
    first = FIRST_PARTITION_DAY
    if not live:
        if not first <= day <= FIXED_LAST_DAY:
            raise ValueError(
                f"date {text} is outside the partitions: {first} .. {FIXED_LAST_DAY}, the design "
                "card's ten days (fixed mode; `make live` for a live Source)"
            )
        return day
    today = today or datetime.now(UTC).date()
    if not first <= day < today:
        raise ValueError(
            f"date {text} is outside the partitions: from {first} to {today} (exclusive; today is not complete)"
        )
    return day


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(
        prog="wind-etl",
        description=(
            "Aggregate one UTC day of wind speed and power to 10-minute mean/min/max/std, read "
            "through the Conektor API and written to the Target database (replacing that day)."
        ),
    )
    parser.add_argument("date", help="the UTC day, YYYY-MM-DD (e.g. 2024-01-05)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings("target_db_url", "api_url")
        day = parse_day(args.date, live=settings.live)
    except (ValueError, ConfigurationError) as exc:
        return _fail(str(exc), EXIT_USAGE)

    secrets = settings_secrets(settings)
    engine = make_engine(settings.target_db_url)
    try:
        with ConektorSession(settings.api_url) as session:
            result = run_etl(session, engine, [day])
    except (
        EmptySourceDay,
        ConektorUnavailable,
        ConektorRequestError,
        TargetSchemaMissing,
        TargetBusy,
    ) as exc:
        return _fail(str(exc), EXIT_FAILED, secrets)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        return _fail(
            f"Target database {redact(settings.target_db_url)} failed: {reason}",
            EXIT_FAILED,
            secrets,
        )
    except KeyboardInterrupt:
        return _fail(
            "interrupted (a load in progress is rolled back); run the day again", EXIT_INTERRUPTED
        )
    finally:
        engine.dispose()

    (only,) = result.days
    print(
        f"wind-etl: {only.day}: read {only.source_rows:,} source rows from "
        f"{redact(settings.api_url)}, wrote {only.rows_written:,} rows to "
        f"{redact(settings.target_db_url)} "
        f"(window {result.start:%Y-%m-%dT%H:%MZ} .. {result.end:%Y-%m-%dT%H:%MZ})"
    )
    return 0


def _fail(message: str, code: int, secrets: list[str] | None = None) -> int:
    """Print one line on stderr, with every password masked (library messages quote URLs)."""
    line = " ".join(mask_passwords(message, secrets or []).split())
    print(f"wind-etl: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
