# SafeStats migration framework.  First commands on a fresh machine:
#   make demo   — set everything up, generate a synthetic legacy database, migrate it
#   make test   — set everything up and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_WORKERS ?= 2
DEMO_SCALE ?= 0.002
BENCH_SCALE ?= 0.1

.PHONY: setup system-deps demo test test-fast test-proofs test-properties-slow lint bench bench-peers clean

$(VENV)/.installed: pyproject.toml scripts/install-system-deps.sh
	./scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import migration, sqlalchemy, alembic, psycopg2, pyodbc, geoalchemy2"
	touch $@

setup: $(VENV)/.installed

system-deps:
	./scripts/install-system-deps.sh

demo: setup
	DEMO_SCALE=$(DEMO_SCALE) BIN=$(BIN) ./scripts/demo.sh

test: setup
	SAFESTATS_CI=1 $(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not proof" --durations=25

test-fast: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not slow and not proof"

# issue 13's long proofs: every kill point, the tamper matrix after a delta and after a rollback
test-proofs: setup
	SAFESTATS_CI=1 $(BIN)/pytest -n $(PYTEST_WORKERS) -q -m proof

# issue 10's property tests with >= 200 drawn tables per legacy table and engine (hours, not CI)
test-properties-slow: setup
	SAFESTATS_HYPOTHESIS_PROFILE=slow $(BIN)/pytest -p no:xdist -q tests/properties

lint: setup
	$(BIN)/ruff check migration tests
	$(BIN)/mypy migration
	$(BIN)/lint-imports  # the layer contract in pyproject.toml [tool.importlinter]

bench: setup
	BENCH_SCALE=$(BENCH_SCALE) BIN=$(BIN) ./scripts/bench.sh

# issue 15: `make bench` plus pgloader, dlt (and Sling) on the same legacy table in the same run;
# the peers go into Debian's packages and $(PEERS_VENV), never into the project's dependencies
PEERS_VENV ?= .venv-peers
bench-peers: setup
	PEERS_VENV=$(PEERS_VENV) ./scripts/install-peers.sh
	BENCH_SCALE=$(BENCH_SCALE) BIN=$(BIN) PEERS_VENV=$(abspath $(PEERS_VENV)) ./scripts/bench.sh --peers

clean:
	rm -rf $(VENV) $(PEERS_VENV) demo bench-out reports .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
