"""SQLAlchemy engines for the Source and Target databases."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(url: str) -> Engine:
    """An engine whose sessions speak UTC and which notices a restarted server at checkout."""
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC", "connect_timeout": 5},
    )
