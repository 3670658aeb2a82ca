"""The Source database engine and the per-request connection dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, create_engine


def make_engine(url: str, pool_size: int = 8) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a restarted database is noticed at checkout, not mid-query
        pool_timeout=5,
        connect_args={
            "options": "-c timezone=UTC -c statement_timeout=30000",
            "connect_timeout": 3,
        },
    )


def get_connection(request: Request) -> Iterator[Connection]:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


SourceConnection = Annotated[Connection, Depends(get_connection)]
