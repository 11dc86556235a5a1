# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
PYTEST_ARGS ?=
# Test processes: pytest-xdist workers. Most tests wait on kernels and servers, so three
# keep two cores busy. Each module runs on one worker (--dist loadscope), so the modules
# that share one server process or environment among their tests set it up once; the
# slowest go first (tests/conftest.py, SLOW_FIRST).
PYTEST_WORKERS ?= 3
XDIST := -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder
# The second pass (warm pool and fork server off: a kernel spawned per run) runs the tests
# marked run_path: those that depend on how a kernel is started and stopped (isolation,
# the sandbox, limits and timeouts, disconnects, shutdown and crashes, the pool itself).
OFF_PASS_ARGS ?= -m run_path
# The JupyterLab extension is built with JupyterLab's own yarn (jlpm, from the venv).
JLPM := PATH="$(abspath $(BIN)):$$PATH" jlpm
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/*) \
	labextension/package.json labextension/tsconfig.json labextension/yarn.lock
LABEXT_BUILT := jupyter_scripting/labextension/package.json
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/jupyter-scripting
# make test UI_TESTS=0 skips the browser tests (labextension/ui-tests).
UI_TESTS ?= 1

# Python may write its bytecode caches (some machines forbid it in the environment): else
# every test process compiles its modules and pytest's assertion rewriting again.
unexport PYTHONDONTWRITEBYTECODE

BENCH_VENV ?= benchmarks/.venv
BENCH_ARGS ?=

.PHONY: install run test test-ui bench bench-cluster bench-schedules bench-webhooks bench-floor lint format clean system system-test

## What the machine must have (Python 3.11+ with venv, Node.js 18+ and npm; for the tests
## also Debian's chromium): installed with apt-get as root, else make stops with the command.
system:
	@PYTHON="$(PYTHON)" tools/system-packages.sh build

system-test:
	@PYTHON="$(PYTHON)" UI_TESTS="$(UI_TESTS)" tools/system-packages.sh test

$(BIN)/python: | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's metadata changes. The editable install builds the
# labextension (hatch-jupyter-builder); `labextension develop` links it into the venv's
# share/jupyter/labextensions, so later rebuilds need no reinstall.
$(VENV)/.installed: pyproject.toml labextension/package.json | $(BIN)/python system
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

install: system $(VENV)/.installed $(LABEXT_BUILT)

## Start JupyterLab with the extension on the embedded SQLite store, publish the demo.
run: install
	PORT=$(PORT) $(BIN)/python examples/run_demo.py

## Run every test. The PostgreSQL store tests use JUPYTER_SCRIPTING_TEST_POSTGRES_URL, else
## a server at 127.0.0.1:5432 (user postgres, database test) if one answers; else they are
## skipped, and pytest's header says so.
test: system-test install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)
	@echo "The run path once more with the warm pool and the fork server off (a kernel spawned per run):"
	JUPYTER_SCRIPTING_TEST_POOL_SIZE=0 JUPYTER_SCRIPTING_TEST_FORK=0 \
		$(BIN)/python -m pytest -q $(XDIST) $(OFF_PASS_ARGS) $(PYTEST_ARGS)
	@echo "The labextension's lint (eslint and prettier, as in the JupyterLab extension template):"
	cd labextension && $(JLPM) lint:check
	@echo "The labextension's jest tests:"
	cd labextension && $(JLPM) test
	@if [ "$(UI_TESTS)" = "1" ]; then $(MAKE) --no-print-directory test-ui; fi

## The browser tests (Galata/Playwright on Debian's chromium, against a real server).
test-ui: system-test install
	cd labextension/ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(JLPM) install
	cd labextension/ui-tests && PATH="$(abspath $(BIN)):$$PATH" jlpm playwright test

## Benchmark against Kernel Gateway (notebook-http) and papermill, installed into their
## own environment ($(BENCH_VENV)); prints the table with the ratios to Kernel Gateway.
bench: install
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet jupyter_kernel_gateway papermill ipykernel
	$(BIN)/python benchmarks/bench.py --reference-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

## Several nodes on one PostgreSQL store (needs one: POSTGRES_URL, default the local one):
## sync and background runs per second for 1, 2 and 3 nodes beside one node on SQLite.
bench-cluster: install
	$(BIN)/python benchmarks/cluster.py $(if $(POSTGRES_URL),--postgres-url $(POSTGRES_URL)) $(BENCH_ARGS)

## How late schedules fire, on one node and on three sharing PostgreSQL (a few minutes).
bench-schedules: install
	$(BIN)/python benchmarks/schedules.py $(if $(POSTGRES_URL),--postgres-url $(POSTGRES_URL)) $(BENCH_ARGS)

bench-webhooks: install
	$(BIN)/python benchmarks/webhooks.py $(if $(POSTGRES_URL),--postgres-url $(POSTGRES_URL)) $(BENCH_ARGS)

## What a run costs below the server: a forked kernel step by step, and the run path
## without HTTP and store, sandbox off and on (about a minute).
bench-floor: install
	$(BIN)/python benchmarks/floor.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	rm -rf jupyter_scripting/labextension labextension/lib labextension/node_modules \
		labextension/tsconfig.tsbuildinfo labextension/ui-tests/node_modules
