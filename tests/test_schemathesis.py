"""schemathesis, driven by the served OpenAPI documents, against a real server process.

Every check schemathesis has runs (server errors, status codes, content types, headers and
bodies against the document, schema-valid data accepted, schema-violating data refused,
``Allow`` on 405, deleted resources gone, …) over its four phases (the document's examples,
coverage, fuzzing, stateful sequences through the links it infers): first on the service's
document, then on one parameterised script's own document (its parameters as the run's
body and query), whose requests really run the script. The bounds and the per-operation
exceptions are in ``tests/fuzz/schemathesis.toml``; ``tests/fuzz/hooks.py`` adds the check
that a 5xx is one of the service's deliberate answers (README, "HTTP API"). The seed is
fixed so that CI is repeatable; ``JUPYTER_SCRIPTING_FUZZ_SEED=<n>`` explores others.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import load_notebook
from .server_process import TOKEN, ServerProcess

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
#: A bound on each run (the service's document takes about 40 s on 2 cores).
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz"), "--ScriptingApp.sync_timeout=20")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def schemathesis(server: ServerProcess, document: str) -> str:
    """Run schemathesis on ``document`` (a path of the server); its output, once it passed
    and tested every operation."""
    seed = os.environ.get("JUPYTER_SCRIPTING_FUZZ_SEED", "20261202")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"http://127.0.0.1:{server.port}/{document}",
        "--header",
        f"Authorization: token {TOKEN}",
        "--seed",
        seed,
        "--no-color",
    ]
    run = subprocess.run(
        command,
        cwd=ROOT,  # the hooks module is imported as tests.fuzz.hooks
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, output
    assert int(tested[1]) == int(selected[1]) == int(selected[2]), output
    assert re.search(r"\d+ generated, \d+ passed", output), output
    assert "Traceback" not in server.log(), server.log()
    return output


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_schemathesis_finds_nothing(server: ServerProcess) -> None:
    schemathesis(server, "scripting/openapi.json")


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_schemathesis_finds_nothing_in_a_scripts_own_document(server: ServerProcess) -> None:
    """Generated bodies and queries of a typed script: the values its schema allows run it
    (never a 5xx), the others are refused with 4xx before it runs."""
    script_id = server.publish(load_notebook("papermill_typed"), name="typed")
    output = schemathesis(server, f"scripting/script/{script_id}/openapi.json")
    assert "Selected: 11/11" in output, output
    ran = [e for e in server.log_entries(script_id) if e["statusCode"] == 200]
    assert ran, "no generated request ran the script"
