#!/usr/bin/env bash
# Smoke test of the compose deployment, for a machine with Docker (CI: .github/workflows/compose.yml).
#
#   scripts/compose-smoke.sh
#
# Builds the images, starts everything with `docker compose up -d --wait`, materializes
# partition 2024-01-05 through the webserver's GraphQL API (a real run, launched by the daemon
# in its own container), checks that the Target holds that day's 1,152 rows, and tears it all
# down with `docker compose down -v`. It DELETES the deployment's volumes: it refuses to start
# while a wind_pipeline deployment (containers or volumes) exists, unless SMOKE_ALLOW_DESTROY=1.
#
# Without a .env it writes one from .env.example with random passwords and this host's Docker
# socket group, and removes it afterwards. Needs: docker with compose v2, python3, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

PARTITION="${SMOKE_PARTITION:-2024-01-05}"
EXPECTED_ROWS=1152
WAIT_SECONDS="${SMOKE_WAIT_SECONDS:-900}"
PROJECT=wind_pipeline
created_env=false

say() { printf 'compose-smoke: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

existing_deployment() {
    docker ps -aq --filter "label=com.docker.compose.project=${PROJECT}"
    docker volume ls -q --filter "label=com.docker.compose.project=${PROJECT}"
}

write_env() {
    local socket="${DOCKER_SOCKET:-/var/run/docker.sock}" gid line key
    gid="$(stat -c %g "$socket" 2>/dev/null || stat -f %g "$socket")"
    while IFS= read -r line || [[ -n "$line" ]]; do
        key="${line%%=*}"
        if [[ "$line" == *=change-me* ]]; then
            printf '%s=%s\n' "$key" "$(openssl rand -hex 24)"
        elif [[ "$key" == DOCKER_GID ]]; then
            printf 'DOCKER_GID=%s\n' "$gid"
        else
            printf '%s\n' "$line"
        fi
    done < .env.example > .env
    chmod 600 .env
}

cleanup() {
    local status=$?
    if [[ $status -ne 0 ]]; then
        say "diagnostics:"
        docker compose ps -a || true
        docker compose logs --no-color --tail 150 || true
    fi
    say "docker compose down -v"
    docker compose down -v --remove-orphans || true
    if [[ "$created_env" == true ]]; then
        rm -f .env
    fi
    exit "$status"
}

command -v docker >/dev/null || fail "docker is not installed"
docker compose version >/dev/null || fail "docker compose (v2) is not available"
command -v python3 >/dev/null || fail "python3 is needed to talk to the webserver"

if [[ -n "$(existing_deployment)" && "${SMOKE_ALLOW_DESTROY:-0}" != 1 ]]; then
    fail "a ${PROJECT} deployment exists on this Docker host; this test would delete its data" \
        "(docker compose down -v). Remove it first, or set SMOKE_ALLOW_DESTROY=1."
fi

if [[ ! -f .env ]]; then
    command -v openssl >/dev/null || fail "openssl is needed to generate passwords"
    write_env
    created_env=true
    say "wrote .env from .env.example with random passwords"
fi
trap cleanup EXIT

say "docker compose build"
docker compose build
say "docker compose up -d --wait"
docker compose up -d --wait --wait-timeout "$WAIT_SECONDS"
docker compose ps

ui="$(docker compose port dagster-webserver 3000)"
say "materializing ${PARTITION} through http://${ui}/graphql"
python3 docker/smoke/materialize_partition.py \
    --url "http://${ui}" --partition "$PARTITION" --timeout "$WAIT_SECONDS"

count_sql="SELECT count(*) FROM data WHERE \"timestamp\" >= '${PARTITION}T00:00Z'::timestamptz AND \"timestamp\" < '${PARTITION}T00:00Z'::timestamptz + interval '1 day'"
# shellcheck disable=SC2016  # $POSTGRES_USER and $POSTGRES_DB expand inside the container
rows="$(docker compose exec -T target-db sh -c 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "$1"' sh "$count_sql")"
rows="${rows//[[:space:]]/}"
[[ "$rows" == "$EXPECTED_ROWS" ]] || fail "the Target holds ${rows} rows for ${PARTITION}, expected ${EXPECTED_ROWS}"
say "the Target holds ${rows} rows for ${PARTITION}"

api="$(docker compose port conektor-api 8000)"
python3 -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=10).status != 200)' \
    "http://${api}/health" || fail "the Conektor API is not healthy"
say "OK"
