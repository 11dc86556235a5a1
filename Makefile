# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
PYTEST_ARGS ?=
# The second pass (pool and fork server off) skips the modules that start no kernel.
OFF_PASS_ARGS ?= --ignore=tests/test_store.py --ignore=tests/test_api_keys_store.py --ignore=tests/test_cli.py

BENCH_VENV ?= benchmarks/.venv
BENCH_ARGS ?=

.PHONY: install run test bench lint format clean

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
	@echo "The run path once more with the warm pool and the fork server off (a kernel spawned per run):"
	JUPYTER_SCRIPTING_TEST_POOL_SIZE=0 JUPYTER_SCRIPTING_TEST_FORK=0 $(BIN)/python -m pytest -q $(OFF_PASS_ARGS)

## Benchmark against Kernel Gateway (notebook-http) and papermill, installed into their
## own environment ($(BENCH_VENV)); prints the table with the ratios to Kernel Gateway.
bench: install
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet jupyter_kernel_gateway papermill ipykernel
	$(BIN)/python benchmarks/bench.py --reference-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
