"""The test PostgreSQL server's plumbing: fresh databases on an admin URL, and the API's
read-only role. The fixtures in the root conftest.py use these; nothing here connects at
import."""

from __future__ import annotations

import itertools
import os

import sqlalchemy as sa

_db_counter = itertools.count()

# The read-only role's password on the test server (unused by the embedded server, which
# trusts loopback; needed when WIND_TEST_PG_URL names a server that checks passwords).
READER_TEST_PASSWORD = "conektor-reader-test"


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def database_url(admin_url: str, name: str) -> str:
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"wind_test_{prefix}_{os.getpid()}_{next(_db_counter)}"
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = sa.make_url(url).database
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def reader_url(db_url: str) -> str:
    """Give `db_url`'s database the API's read-only role (api_service/sql/reader_role.sql);
    return the URL the API connects with."""
    from wind_stack.db_roles import apply_reader_role

    return apply_reader_role(db_url, READER_TEST_PASSWORD)
