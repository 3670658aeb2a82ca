"""Least-privilege database roles: the Target's writer (docs/RELIABILITY.md, "Roles").

`wind_writer` is the role the ETL should write the Target with. It can log in, create the
Target's tables in the Target database's `public` schema (so `target_schema` can run as it,
and owns what it creates), and read, insert and delete rows of `signal` and `data`. It is
not a superuser and cannot create databases or roles; it owns nothing else, so it cannot
drop or alter any other table, schema or database, nor read the Source.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, create_engine, pool, text

WRITER_ROLE = "wind_writer"
_TARGET_TABLES = ("signal", "data")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def ensure_target_writer(
    admin_target_url: str, role: str = WRITER_ROLE, password: str | None = None
) -> None:
    """Create or update `role` and grant it exactly the writer's privileges; idempotent.

    `admin_target_url` connects to the Target database as a role that may create roles and
    grant on that database (e.g. `postgres`). The password, if given, is sent as a quoted
    literal by the driver; with trust authentication (the local stack) none is needed.
    """
    if not _ROLE_NAME.match(role):
        raise ValueError(f"invalid role name {role!r}: lower-case letters, digits and _ only")
    engine = create_engine(admin_target_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote
            name = quote(role)
            database = quote(conn.execute(text("SELECT current_database()")).scalar_one())
            exists = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
            ).scalar()
            if not exists:
                # Role and database names are identifiers, quoted above; they take no parameters.
                conn.execute(text(f"CREATE ROLE {name}"))
            conn.execute(
                text(
                    f"ALTER ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION NOBYPASSRLS"
                )
            )
            if password:
                conn.execute(text(f"ALTER ROLE {name} PASSWORD :password"), {"password": password})
            conn.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {name}"))
            conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {name}"))
            _grant_existing_tables(conn, name)
    finally:
        engine.dispose()


def _grant_existing_tables(conn: Connection, name: str) -> None:
    """Tables made earlier by another role: rows only (no TRUNCATE, no ownership, no DROP)."""
    existing = conn.execute(
        text(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname = ANY(:names)"
        ),
        {"names": [*_TARGET_TABLES, "signal_id_seq"]},
    ).all()
    for relname, relkind in existing:
        quoted = conn.dialect.identifier_preparer.quote(relname)
        if relkind == "S":
            conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE public.{quoted} TO {name}"))
        else:
            conn.execute(text(f"GRANT SELECT, INSERT, DELETE ON public.{quoted} TO {name}"))
