# One command each for the demo, tests, lint and benchmarks. Each sets itself up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint bench setup

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)  ## the nightly job end to end on the embedded default (sandbox + SQLite + outbox)
	$(BIN)/python run_recon.py demo

test: $(STAMP)  ## the whole test suite, on every core (pytest-xdist)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff format --check recon tests bench
	$(BIN)/ruff check recon tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py
