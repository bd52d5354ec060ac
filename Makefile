# Everyday commands. `make run` serves the API on the embedded default (SQLite file and
# in-process Redis stand-in); WUJIANG_* variables point it elsewhere.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: venv run test lint bench contract contract-check contract-ts contract-ts-generate

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

# After changing an operation: regenerate the committed contract and the app's TypeScript
# types, then review both diffs (and run `make contract-check`) before committing.
contract: venv
	$(BIN)/wujiang contract export
	$(MAKE) contract-ts-generate

# Breaking changes against the contract of the previous commit (what CI runs).
contract-check: venv
	.ci/contract-check

# The TypeScript client of mobile_contract/openapi.json for the app. Its generated types are
# committed so reviewers see what a contract change does to the app's code.
TS_CLIENT := mobile_contract/typescript
TS_STAMP := $(TS_CLIENT)/node_modules/.installed

# npm ci empties node_modules, stamp included: it runs again only when node_modules is missing
# or the lock file (or package.json) changed since the last install.
$(TS_STAMP): $(TS_CLIENT)/package-lock.json $(TS_CLIENT)/package.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
	touch $(TS_STAMP)

# The committed types must be what the contract generates now, and the client must compile.
contract-ts: $(TS_STAMP)
	cd $(TS_CLIENT) && npm run --silent check

contract-ts-generate: $(TS_STAMP)
	cd $(TS_CLIENT) && npm run --silent generate
