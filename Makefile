# wind_pipeline: every target sets itself up; `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# Dagster's own switch: a step's per-partition materializations are stored in batches. Set by
# the environments that run the code location (.env, run, dev), not at import.
DAGSTER_EVENT_BATCH_SIZE ?= 1000
# An older venv's activate exported it; `dg dev`'s webserver and daemon fail on it.
unexport DAGSTER_MODULE_NAME

.PHONY: install run up down status dev live test test-unit bench loadtest lint format clean compose-smoke

# Reinstall only when the project or its lock file changed.
$(STAMP): pyproject.toml requirements.lock Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]' 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
	@# Activating the venv is plain: the settings, DAGSTER_HOME included, come from .env (make up).
	@# Older venvs' activate exported DAGSTER_MODULE_NAME, which `dg dev` cannot run with: removed.
	@sed -i.bak '/^# wind_pipeline project settings/,$$d' $(BIN)/activate && rm -f $(BIN)/activate.bak
	@mkdir -p $(DAGSTER_HOME)
	@touch $(STAMP)

install: $(STAMP)

up: install
	@$(BIN)/wind-stack up

down:
	@if [ -x $(BIN)/wind-stack ]; then $(BIN)/wind-stack down; else echo "nothing to stop"; fi

status: install
	@$(BIN)/wind-stack status

run dev live: export DAGSTER_EVENT_BATCH_SIZE := $(DAGSTER_EVENT_BATCH_SIZE)

run: up
	@mkdir -p $(DAGSTER_HOME)
	@$(BIN)/python -m wind_stack.run_all

# `dg dev` takes DAGSTER_HOME from .env (the same folder); exported, it makes Dagster warn
# about the Compose dagster.yaml at the root.
dev: up
	@mkdir -p $(DAGSTER_HOME)
	env -u DAGSTER_HOME $(BIN)/dg dev

# Live mode (docs/operations.md): WIND_LIVE=true in .env, the Source fed up to now and every
# complete day aggregated (wind_stack/live.py), then the UI and the daemon, which keep it live.
live: install
	@$(BIN)/wind-stack up --live
	@mkdir -p $(DAGSTER_HOME)
	@$(BIN)/python -m wind_stack.live
	env -u DAGSTER_HOME $(BIN)/dg dev

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The database-free layer (wind_pipeline_tests/unit): no PostgreSQL, no network, seconds.
test-unit: install
	$(BIN)/python -m pytest wind_pipeline_tests/unit -m unit $(PYTEST_ARGS)

# Benchmarks on a scratch stack; writes benchmarks/RESULTS.md and benchmarks/results.json.
bench: install
	$(BIN)/python -m benchmarks.bench_pipeline

# Not part of `make test`: 20 s of 32 concurrent clients; results in benchmarks/results/.
loadtest: install
	$(BIN)/python benchmarks/load_test.py --output benchmarks/results/load_test.json

# The Compose deployment on a real Docker engine (docs/deployment.md); not part of `make test`.
# Base images: WIND_PYTHON_IMAGE / WIND_POSTGRES_IMAGE (e.g. a registry mirror).
compose-smoke:
	scripts/compose-smoke.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Your own lines in .env (e.g. WIND_API_CORS_ORIGINS) stay; the stack's are removed.
clean: down
	@if [ -x $(BIN)/wind-stack ]; then $(BIN)/wind-stack forget-env; fi
	rm -rf .stack .dagster_home
