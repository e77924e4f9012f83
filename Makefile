# carloop — two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-reset test test-fast lint typecheck fmt clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/carloop demo

demo-reset: install
	$(BIN)/carloop demo --reset

test: install
	$(BIN)/python -m pytest -q -n $(or $(TEST_WORKERS),2) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check carloop tests
	$(BIN)/ruff format --check carloop tests

typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format carloop tests
	$(BIN)/ruff check --fix carloop tests

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm .pytest_cache .mypy_cache .ruff_cache
