#!/usr/bin/env bash
# Takes PUBLIC's default rights away on this server (docker/postgres/restrict_public.sql, baked
# into the image at /opt/wind/restrict_public.sql): in POSTGRES_DB, `postgres` and `template1`.
# The postgres image runs this once, on an empty data volume, as the superuser POSTGRES_USER.
# Safe to run again: it converges.
set -eo pipefail

owner="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$owner}"
sql="${RESTRICT_PUBLIC_SQL:-/opt/wind/restrict_public.sql}"
# Every database of a new server (the tests name theirs).
read -r -a databases <<<"${RESTRICT_DATABASES:-$database postgres template1}"

done_list=()
for db in "${databases[@]}"; do
    [[ " ${done_list[*]} " == *" $db "* ]] && continue
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$owner" --dbname "$db" -f "$sql" >/dev/null
    done_list+=("$db")
done
echo "10-restrict-public.sh: PUBLIC may not connect, create temporary tables or use large objects (${done_list[*]})"
