#!/usr/bin/env bash
# The Compose deployment proven on a real Docker engine (`make compose-smoke`; CI:
# .github/workflows/compose.yml). Builds the images, `docker compose up -d --wait`, then one
# line per step: the bootstrap, the API's read-only role, partition 2024-01-05 in its own
# container (1,152 rows), the API on 127.0.0.1 only, a 10-day backfill as one run (11,520 rows),
# Terminate, a killed run container, a target-db restart mid-run, down/up keeping the data,
# non-root users, no password in logs or files, and `docker compose down -v` at the end.
# The steps are in docker/smoke/compose_smoke.py (its docstring lists the settings):
#
#   scripts/compose-smoke.sh
#   WIND_PYTHON_IMAGE=offline/python:3.11-slim WIND_POSTGRES_IMAGE=offline/postgres:16 scripts/compose-smoke.sh
#
# It DELETES the deployment's volumes: it refuses to start while a wind_pipeline deployment
# (containers or volumes) exists, unless SMOKE_ALLOW_DESTROY=1. It never reads or writes ./.env:
# it uses SMOKE_ENV_FILE, or a throw-away env file with random passwords.
# Needs: docker with compose v2, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf 'compose-smoke: FAILED: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed"
docker compose version >/dev/null 2>&1 || fail "docker compose (v2) is not available"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (is dockerd running?)"
command -v python3 >/dev/null || fail "python3 is needed to drive the steps"

exec python3 docker/smoke/compose_smoke.py "$@"
