# Everyday commands. `make run` serves the API on the embedded default (SQLite file and
# in-process Redis stand-in); WUJIANG_* variables point it elsewhere.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: venv run test lint bench

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

run: venv
	$(BIN)/wujiang migrate
	$(BIN)/wujiang behaviours publish --default
	$(BIN)/wujiang serve --host 127.0.0.1 --port 8000 --with-worker

test: venv
	$(BIN)/pytest $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/ledger_bench.py $(ARGS)
