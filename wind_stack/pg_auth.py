"""How the embedded server authenticates: a password (SCRAM) for every role, loopback TCP only.

A server made by an older `wind-stack` trusted every loopback connection; `require_passwords`
moves it over on its next start: the superuser gets its password over the still-trusted
connection, then the new pg_hba.conf is loaded.
"""

from __future__ import annotations

from pathlib import Path

from wind_stack.os_user import give_to_server_user

HBA_HEADER = "# Written by wind-stack: every role logs in with its password"
PG_HBA = f"""{HBA_HEADER} (SCRAM), over loopback TCP only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
"""


def requires_passwords(data_dir: Path) -> bool:
    try:
        return (data_dir / "pg_hba.conf").read_text().startswith(HBA_HEADER)
    except FileNotFoundError:
        return False


def write_hba(data_dir: Path) -> None:
    (data_dir / "pg_hba.conf").write_text(PG_HBA)
    give_to_server_user(data_dir / "pg_hba.conf")


def require_passwords(data_dir: Path, superuser_url: str, superuser: str, password: str) -> None:
    """On a running server that still trusts loopback: set the superuser's password, then load
    the pg_hba.conf that asks every role for its password."""
    import sqlalchemy as sa

    if requires_passwords(data_dir):
        return
    engine = sa.create_engine(superuser_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"ALTER ROLE {superuser} PASSWORD :pw"), {"pw": password})
            write_hba(data_dir)
            conn.execute(sa.text("SELECT pg_reload_conf()"))
    finally:
        engine.dispose()
