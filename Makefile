# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
PYTEST_ARGS ?=
# The second pass (pool and fork server off) skips the modules that start no kernel, those
# that test the command line or the API document rather than the run path, and the Binder
# test (a fresh environment of its own, minutes long: once is enough).
OFF_PASS_ARGS ?= --ignore=tests/test_store.py --ignore=tests/test_api_keys_store.py \
	--ignore=tests/test_cli.py --ignore=tests/test_cli_client.py --ignore=tests/test_schemathesis.py \
	--ignore=tests/test_binder.py
# The JupyterLab extension is built with JupyterLab's own yarn (jlpm, from the venv).
JLPM := PATH="$(abspath $(BIN)):$$PATH" jlpm
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/*) \
	labextension/package.json labextension/tsconfig.json labextension/yarn.lock
LABEXT_BUILT := jupyter_scripting/labextension/package.json
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/jupyter-scripting
# make test UI_TESTS=0 skips the browser tests (labextension/ui-tests).
UI_TESTS ?= 1

BENCH_VENV ?= benchmarks/.venv
BENCH_ARGS ?=

.PHONY: install run test test-ui bench lint format clean node

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

node:
	@command -v node >/dev/null || { echo "Node.js (>= 18) is needed to build the JupyterLab \
	extension: apt-get install nodejs npm"; exit 1; }

# Reinstall whenever the project's metadata changes. The editable install builds the
# labextension (hatch-jupyter-builder); `labextension develop` links it into the venv's
# share/jupyter/labextensions, so later rebuilds need no reinstall.
$(VENV)/.installed: pyproject.toml labextension/package.json | $(BIN)/python node
	@# Drop the link of an earlier `develop` first: pip would write the wheel's shared data
	@# through it, into jupyter_scripting/labextension.
	if [ -L $(LABEXT_LINK) ]; then rm $(LABEXT_LINK); fi
	$(BIN)/python -m pip install --quiet -e ".[test,dev,postgresql]"
	PATH="$(abspath $(BIN)):$$PATH" jupyter labextension develop --overwrite .
	touch $@

# Rebuild the labextension when its sources change.
$(LABEXT_BUILT): $(LABEXT_SOURCES) | $(VENV)/.installed
	cd labextension && $(JLPM) install && $(JLPM) build
	touch $@

install: $(VENV)/.installed $(LABEXT_BUILT)

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
	@echo "The labextension's jest tests:"
	cd labextension && $(JLPM) test
	@if [ "$(UI_TESTS)" = "1" ]; then $(MAKE) --no-print-directory test-ui; fi

## The browser tests (Galata/Playwright on Debian's chromium, against a real server).
test-ui: install
	cd labextension/ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(JLPM) install
	cd labextension/ui-tests && PATH="$(abspath $(BIN)):$$PATH" jlpm playwright test

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
	rm -rf jupyter_scripting/labextension labextension/lib labextension/node_modules \
		labextension/tsconfig.tsbuildinfo labextension/ui-tests/node_modules
