#!/usr/bin/env bash
# The Conektor API's read-only role on the Source database, from the one SQL file the local
# stack uses too (api_service/sql/reader_role.sql, baked into the image at
# /opt/wind/reader_role.sql): `conektor_reader` may connect to POSTGRES_DB and SELECT the table
# `data`, nothing else (10-restrict-public.sh has already taken PUBLIC's defaults away).
# The postgres image runs this once, on an empty data volume, as POSTGRES_USER, who owns the
# tables (`source_seed` later only DELETEs and COPYs, so the grant stays).
#
# Only the server given CONEKTOR_READER_PASSWORD (source-db) gets the role; on the others
# (target-db, dagster-db) the variable is not set and this script does nothing, so the role
# does not exist there. Set but empty is an error. Safe to run again: it converges.
set -eo pipefail

if [ -z "${CONEKTOR_READER_PASSWORD+set}" ]; then
    echo "20-conektor-reader.sh: no CONEKTOR_READER_PASSWORD: no Conektor reader role on this server"
    exit 0
fi
if [ -z "$CONEKTOR_READER_PASSWORD" ]; then
    echo "20-conektor-reader.sh: CONEKTOR_READER_PASSWORD is empty (see .env.example)" >&2
    exit 1
fi
owner="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$owner}"
sql="${READER_ROLE_SQL:-/opt/wind/reader_role.sql}"

# A psql variable keeps the password out of the SQL text.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "$owner" --dbname "$database" \
    --set reader_password="$CONEKTOR_READER_PASSWORD" -f "$sql"
echo "20-conektor-reader.sh: role conektor_reader can read $database.public.data"
