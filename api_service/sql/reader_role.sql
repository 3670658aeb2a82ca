-- The Conektor's read-only role: LOGIN, SELECT on the Source table "data" and nothing else.
--
-- Run it with psql, as the role that owns the Source table (the one `source_seed` connects
-- as), connected to the Source database; it is idempotent:
--
--   psql -v ON_ERROR_STOP=1 -v reader_password="$CONEKTOR_READER_PASSWORD" \
--        -d wind_source -f api_service/sql/reader_role.sql
--
-- Without -v reader_password the role's password is left as it is (none on creation):
-- enough where the server trusts local connections, as the local stack's does; elsewhere set
-- one. The API then connects with WIND_API_DB_URL=postgresql+psycopg2://conektor_reader:...@host/wind_source.
--
-- The table is created here if it does not exist yet (the same definition as
-- api_service/models.py; a test checks they agree), so SELECT can be granted on it alone,
-- and `source_seed` (which only creates the table when missing, then DELETEs and COPYs)
-- keeps the grant.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- All or nothing.
BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'conektor_reader') THEN
        CREATE ROLE conektor_reader LOGIN;
    END IF;
END
$$;

-- Whatever the role was before, it is now a plain login role that cannot change anything.
ALTER ROLE conektor_reader
    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
-- Belt and braces: its sessions start read-only (the grants below are what enforce it).
ALTER ROLE conektor_reader SET default_transaction_read_only = on;

\if :{?reader_password}
ALTER ROLE conektor_reader PASSWORD :'reader_password';
\endif

CREATE TABLE IF NOT EXISTS public.data (
    "timestamp" timestamp with time zone NOT NULL,
    wind_speed double precision,
    power double precision,
    ambient_temperature double precision,
    CONSTRAINT data_pkey PRIMARY KEY ("timestamp")
);

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO conektor_reader', current_database());
END
$$;
-- No CREATE on the schema (PostgreSQL 15+ grants none to PUBLIC; older servers did).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM conektor_reader;
GRANT USAGE ON SCHEMA public TO conektor_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM conektor_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM conektor_reader;
GRANT SELECT ON TABLE public.data TO conektor_reader;

COMMIT;
