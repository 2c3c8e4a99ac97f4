# `make run` and `make test` work from a fresh clone with only python3 installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint bench bench-quick reliability clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/outdial serve

# Style, types, the layering contract (pyproject.toml, [tool.importlinter]) and dead code.
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture

# What CI runs: everything, on SQLite and on PostgreSQL. Two workers: much of the suite
# waits on servers, browsers and stores rather than computing, and each test has a store
# of its own; then, alone, the tests that start several servers at once (each holds
# PostgreSQL connections of its own: together they would pass its limit of 100).
test: lint
	$(BIN)/pytest -n 2 -m "not processes"
	$(BIN)/pytest -m processes

# The inner loop: no PostgreSQL, no fuzzing, no multi-process tests.
test-fast: $(BIN)/.installed
	$(BIN)/pytest -m "not postgres and not slow"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Every figure beside its reference, into benchmarks/results/latest.md (not part of test).
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

bench-quick: $(BIN)/.installed
	$(BIN)/python -m benchmarks --quick --output benchmarks/results/quick.md

# Faults survived with nothing lost: kills, a database restart, a sustained load and the
# fuzzer, on both stores (several minutes; not part of test). Summary in
# reliability/results/latest.md.
reliability: $(BIN)/.installed
	$(BIN)/python -m reliability
