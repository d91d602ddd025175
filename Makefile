# CityKeeper (城市管家): `make demo` and `make test` are all a fresh clone needs.
# Needs Python 3.11 and make; everything else goes into .venv.

SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# python3.11 if it is on the PATH, else python3 (checked to be 3.11 below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)

# Stamps: pip runs again only when pyproject.toml changes (or the venv is new).
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench screenshots clean

## make demo: create .venv, install, migrate, load the demo city, serve it with the worker
demo: $(RUNTIME_STAMP)
	$(BIN)/citykeeper demo

## make test: the whole suite (SQLite by default; CITYKEEPER_DB=postgres for PostgreSQL)
test: $(TEST_STAMP)
	$(PY) -m pytest -q -n 2

## make lint: ruff and the import-layer contracts
lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

## make bench: speed figures on SQLite and PostgreSQL, written to docs/benchmarks.md
bench: $(RUNTIME_STAMP)
	$(PY) bench/run.py
	$(PY) bench/intake.py
	$(PY) bench/console.py
	$(PY) bench/evaluation.py

## make screenshots: the browser tests of the console, saving each role's queue and the case page as PNG
screenshots: $(TEST_STAMP)
	CITYKEEPER_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:xdist tests/e2e/test_console_lifecycle.py

## make clean: remove the virtualenv, var/ (the demo database, static files, media) and caches
clean:
	rm -rf $(VENV) var build dist src/*.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(PY):
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 is needed (python3.11 or python3 on the PATH)." >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
		{ echo "CityKeeper needs Python 3.11; $(PYTHON) is $$($(PYTHON) --version 2>&1). Set PYTHON=/path/to/python3.11." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@ $(RUNTIME_STAMP)
