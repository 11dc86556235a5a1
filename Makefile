# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
PYTEST_ARGS ?=
POOL_OFF_TESTS ?= tests/test_run.py tests/test_logs.py tests/test_background.py tests/test_concurrency.py

.PHONY: install run test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,dev,postgresql]"
	touch $@

install: $(VENV)/.installed

## Start JupyterLab with the extension on the embedded SQLite store, publish the demo.
run: install
	PORT=$(PORT) $(BIN)/python examples/run_demo.py

## Run every test (PostgreSQL store tests only when JUPYTER_SCRIPTING_TEST_POSTGRES_URL is set).
test: install
	@if [ -z "$$JUPYTER_SCRIPTING_TEST_POSTGRES_URL" ]; then \
		echo "JUPYTER_SCRIPTING_TEST_POSTGRES_URL is not set: the PostgreSQL store tests will be skipped."; \
	fi
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@echo "The run path once more with the warm kernel pool off (kernel_pool_size=0):"
	JUPYTER_SCRIPTING_TEST_POOL_SIZE=0 $(BIN)/python -m pytest -q $(POOL_OFF_TESTS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
