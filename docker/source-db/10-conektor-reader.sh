#!/usr/bin/env bash
# The Conektor API's read-only role on the Source database: `conektor_reader` may connect,
# use schema public and SELECT the table `data`, nothing else. Mirrors
# api_service/sql/reader_role.sql. The postgres image runs this once, on an empty data volume,
# as POSTGRES_USER, who also owns the tables (`source_seed` creates `data` later, as that user:
# the default privileges below make it readable). Safe to run again: it converges.
set -eo pipefail

if [ -z "${CONEKTOR_READER_PASSWORD:-}" ]; then
    echo "10-conektor-reader.sh: CONEKTOR_READER_PASSWORD is not set (see .env.example)" >&2
    exit 1
fi
owner="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$owner}"

# psql variables keep the password and names out of the SQL text (:'x' quotes a literal,
# :"x" an identifier).
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "$owner" --dbname "$database" \
    --set reader_password="$CONEKTOR_READER_PASSWORD" \
    --set owner="$owner" --set database="$database" <<'SQL'
SELECT 'CREATE ROLE conektor_reader'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'conektor_reader') \gexec
ALTER ROLE conektor_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"database" TO conektor_reader;
GRANT USAGE ON SCHEMA public TO conektor_reader;
SELECT 'GRANT SELECT ON TABLE public.data TO conektor_reader'
WHERE to_regclass('public.data') IS NOT NULL \gexec
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT ON TABLES TO conektor_reader;
SQL
echo "10-conektor-reader.sh: role conektor_reader can read $database.public.data"
