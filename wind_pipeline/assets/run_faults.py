"""How the aggregates asset reports a fault: a permanent one fails the step at once; a
transient one (an API or a database that may come back) asks for a retry until the retries
are spent, then fails the step. Every failure is one masked line that names the cause."""

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from wind_pipeline.assets.run_days import NothingToCheck
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
    NothingToCheck,
    ValueError,
    ProgrammingError,
)
# A database that is down or drops the connection, or an API that stays down, may come back.
TRANSIENT_FAULTS = (ConektorUnavailable, OperationalError, InterfaceError, PoolTimeoutError)


class TransientFault(RuntimeError):
    """The one-line reason a step attempt asks for a retry (the API or a database unreachable)."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason(exc: Exception) -> str:
    """The driver's own first line (psycopg2's), without SQLAlchemy's SQL and links."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _describe(exc: Exception, engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    where = redact(url)
    if isinstance(exc, ProgrammingError):
        text = (
            f"Target database {where} refused the ETL: {_reason(exc)} "
            "(has target_schema been materialized?)"
        )
    elif isinstance(exc, (*PERMANENT_FAULTS, ConektorUnavailable)):
        text = str(exc)
    else:
        text = f"Target database {where} unavailable: {_reason(exc)}"
    return _one_line(mask_url_secrets(text, url))


def step_fault(
    exc: Exception, engine: Engine, policy: dg.RetryPolicy, retry_number: int
) -> dg.Failure | dg.RetryRequested:
    """What the step raises for `exc`: a retry on `policy`'s schedule while a transient fault
    has attempts left, else a `dg.Failure` with one line (never retried, by Dagster either)."""
    reason = _describe(exc, engine)
    if not isinstance(exc, TRANSIENT_FAULTS):
        return dg.Failure(description=reason, allow_retries=False)
    if retry_number < policy.max_retries:
        retry = dg.RetryRequested(
            max_retries=policy.max_retries,
            seconds_to_wait=policy.calculate_delay(retry_number + 1),
        )
        retry.__cause__ = TransientFault(reason)
        return retry
    # Failing here, rather than letting Dagster refuse one more retry, keeps the reason in the
    # failure's one line instead of "Exceeded max_retries" over a chain of library errors.
    attempts = retry_number + 1
    return dg.Failure(
        description=f"{reason} (gave up after {attempts} step attempt{'s' * (attempts > 1)})",
        allow_retries=False,
    )
