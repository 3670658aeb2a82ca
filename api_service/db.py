"""The Source database engine and the per-request connection dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, create_engine


def make_engine(url: str, pool_size: int = 20, statement_timeout_ms: int = 30_000) -> Engine:
    """An engine whose sessions are read-only and format times and floats the same way always.

    The session settings are part of the API's output: `/data` bodies are written by
    PostgreSQL, so the time zone, date style and float precision must not depend on the
    server's or the role's defaults. Read-only sessions are a second line of defence
    behind the read-only role.
    """
    options = " ".join(
        [
            "-c timezone=UTC",
            "-c datestyle=ISO",
            "-c extra_float_digits=1",  # shortest text that reads back as the same double
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={statement_timeout_ms}",
        ]
    )
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a restarted database is noticed at checkout, not mid-query
        pool_timeout=5,
        connect_args={"options": options, "connect_timeout": 3},
    )


def get_connection(request: Request) -> Iterator[Connection]:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


SourceConnection = Annotated[Connection, Depends(get_connection)]
