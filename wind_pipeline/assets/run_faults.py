"""How the aggregates asset reports a fault: a permanent one fails the step at once with its
message; a transient one (an API or a database that may come back) asks for a retry."""

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from wind_pipeline.etl.conektor_client import ConektorRequestError, ConektorUnavailable
from wind_pipeline.etl.load import TargetBusy, TargetSchemaMissing
from wind_pipeline.etl.pipeline import EmptySourceDay
from wind_pipeline.settings import mask_url_secrets, redact

# Retrying cannot fix these; ProgrammingError is a missing table or privilege.
PERMANENT_FAULTS = (
    EmptySourceDay,
    ConektorRequestError,
    TargetSchemaMissing,
    TargetBusy,
    ValueError,
    ProgrammingError,
)
# A database that is down or drops the connection, or an API that stays down, may come back.
TRANSIENT_FAULTS = (ConektorUnavailable, OperationalError, InterfaceError, PoolTimeoutError)


class TargetUnavailable(RuntimeError):
    """The Target database could not be reached or dropped the connection (transient)."""


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def fault_of(exc: Exception, engine: Engine) -> Exception:
    """`dg.Failure` (never retried) for a permanent fault, else the transient error to retry,
    each with a one-line message that names no password."""
    url = engine.url.render_as_string(hide_password=False)
    where = redact(url)

    def clean(text: str) -> str:
        return mask_url_secrets(text, url)

    if isinstance(exc, ProgrammingError):
        return dg.Failure(
            description=clean(
                f"Target database {where} refused the ETL: {_reason(exc)} "
                "(has target_schema been materialized?)"
            ),
            allow_retries=False,
        )
    if isinstance(exc, PERMANENT_FAULTS):
        return dg.Failure(description=clean(str(exc)), allow_retries=False)
    if isinstance(exc, ConektorUnavailable):
        return exc
    return TargetUnavailable(clean(f"Target database {where} unavailable: {_reason(exc)}"))
