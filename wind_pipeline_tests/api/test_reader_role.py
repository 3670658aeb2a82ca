"""The API's read-only PostgreSQL role: what it may read, and that nothing it sends can write."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from wind_pipeline.source_data import create_source_table, generate_turbine_data, seed_source
from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.helpers import execute, scalar
from wind_pipeline_tests.support.postgres import reader_url
from wind_stack.db_roles import READER_ROLE
from wind_stack.net import free_port
from wind_stack.stack import SOURCE_DB, LocalStack

WRITES = {
    "INSERT INTO data (timestamp) VALUES ('2030-01-01Z')": "permission denied for table data",
    "UPDATE data SET power = 0": "permission denied for table data",
    "DELETE FROM data": "permission denied for table data",
    "TRUNCATE data": "permission denied for table data",
    "DROP TABLE data": "must be owner of table data",
    "ALTER TABLE data ADD COLUMN x int": "must be owner of table data",
    "CREATE TABLE public.stolen (x int)": "permission denied for schema public",
    "CREATE INDEX ON data (power)": "must be owner of table data",
}


def test_the_api_connects_as_the_reader_and_reads(api_server: ApiServer):
    with api_server.app.state.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == READER_ROLE
        assert conn.execute(sa.text("SELECT count(*) FROM data")).scalar() == 14_400


@pytest.mark.parametrize("sql", list(WRITES))
def test_a_write_through_the_apis_connection_fails(api_server: ApiServer, source_url: str, sql):
    engine: sa.Engine = api_server.app.state.engine
    # The session is read-only by default ...
    with engine.connect() as conn, pytest.raises(DBAPIError, match="read-only transaction"):
        conn.execute(sa.text(sql))
    # ... and even a read-write transaction is refused by the role's privileges.
    with engine.connect() as conn, pytest.raises(DBAPIError) as refused:
        conn.execute(sa.text("SET TRANSACTION READ WRITE"))
        conn.execute(sa.text(sql))
    assert WRITES[sql] in str(refused.value)
    assert scalar(source_url, "SELECT count(*) FROM data") == 14_400
    assert scalar(source_url, "SELECT to_regclass('public.stolen')") is None


def test_the_reader_sees_no_other_table(new_database: Callable[[str], str]):
    url = new_database("reader_scope")
    engine = sa.create_engine(url)
    seed_source(engine, generate_turbine_data(days=1))
    engine.dispose()
    reader = reader_url(url)
    execute(url, "CREATE TABLE secrets (value text)")  # made after the role, by the owner
    execute(url, "INSERT INTO secrets VALUES ('owner only')")
    assert scalar(reader, "SELECT count(*) FROM data") == 1440
    with pytest.raises(DBAPIError, match="permission denied for table secrets"):
        scalar(reader, "SELECT * FROM secrets")


def _columns(url: str) -> list[tuple]:
    """The table `data`'s columns: name, type, nullability, position, part of the key."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.column_name, c.data_type, c.is_nullable, c.ordinal_position,"
                "       k.constraint_name IS NOT NULL AS in_primary_key"
                " FROM information_schema.columns c"
                " LEFT JOIN information_schema.key_column_usage k"
                "   ON k.table_name = c.table_name AND k.column_name = c.column_name"
                " WHERE c.table_name = 'data' ORDER BY c.ordinal_position"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_the_role_script_makes_the_models_table_and_the_grant_survives_seeding(
    new_database: Callable[[str], str],
):
    by_model, by_script = new_database("by_model"), new_database("by_script")
    engine = sa.create_engine(by_model)
    create_source_table(engine)
    engine.dispose()

    reader = reader_url(by_script)  # on an empty database: creates the table, grants SELECT
    assert _columns(by_script) == _columns(by_model)
    assert scalar(reader, "SELECT count(*) FROM data") == 0

    engine = sa.create_engine(by_script)  # source_seed's way: the owner, DELETE + COPY
    seed_source(engine, generate_turbine_data(days=1))
    seed_source(engine, generate_turbine_data(days=2))
    engine.dispose()
    assert scalar(reader, "SELECT count(*) FROM data") == 2880

    assert reader_url(by_script) == reader  # idempotent
    assert scalar(reader, "SELECT count(*) FROM data") == 2880


def test_local_stack_runs_the_api_as_the_reader(tmp_path):
    stack_dir = tmp_path / ".stack"
    stack_dir.mkdir()
    # Free ports of our own: the default ones may belong to a developer's running stack.
    (stack_dir / "stack.json").write_text(
        json.dumps({"pg_port": free_port(), "api_port": free_port()})
    )
    stack = LocalStack(stack_dir, tmp_path / ".env")
    try:
        stack.up()
        api_env = psutil.Process(stack.api_pid()).environ()
        assert sa.make_url(api_env["WIND_API_DB_URL"]).username == READER_ROLE
        assert httpx.get(f"{stack.api_url}/coverage").json()["row_count"] == 0
        users = scalar(
            stack.postgres.url(),
            "SELECT array_agg(DISTINCT usename) FROM pg_stat_activity"
            " WHERE datname = :db AND backend_type = 'client backend'",
            db=SOURCE_DB,
        )
        assert users == [READER_ROLE]
        source = stack.postgres.url(SOURCE_DB)
        seed_source(
            sa.create_engine(source, poolclass=sa.pool.NullPool), generate_turbine_data(days=1)
        )
        assert httpx.get(f"{stack.api_url}/coverage").json()["row_count"] == 1440
    finally:
        stack.down()
