# Flotilla: `make run` starts the system, `make test` passes the tests. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup run test test-fast lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

run: setup
	$(BIN)/flotilla up

test: setup
	@if [ "$$CI" = "true" ]; then command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium); fi
	$(BIN)/pytest -q -n auto

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark, each to the end even when an earlier one misses its budget (exit 1 if any did).
BENCHES := api.py controller.py "autoscale.py --speed" "autoscale.py --quick" gateway.py coldstart.py
bench: setup
	@status=0; for b in $(BENCHES); do \
	  echo "== python bench/$$b"; $(BIN)/python bench/$$b || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) build dist src/*.egg-info
