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

# Two pytest-xdist workers more than the cores: many tests wait on a subprocess, a socket or a
# lease's clock, so with one per core the cores idled about a third of the time. On 2 cores the
# tests took 9 min 26 s with two workers, 7 min 41 s with three (an earlier suite); this suite
# 8 min 20 s with three (1.64 cores busy) and 7 min 39 s with four (1.83). TEST_WORKERS=N
# overrides it.
TEST_WORKERS ?= $(shell $(PY) -c 'import os; print((os.cpu_count() or 1) + 2)')

test: $(STAMP)  ## the whole test suite, one worker per core and two more (pytest-xdist)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff format --check recon tests bench
	$(BIN)/ruff check recon tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py
