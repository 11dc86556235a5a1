"""schemathesis, driven by the served OpenAPI document, against a real server process.

Every check schemathesis has runs (server errors, status codes, content types, headers and
bodies against the document, schema-valid data accepted, schema-violating data refused,
``Allow`` on 405, deleted resources gone, …) over its four phases (the document's examples,
coverage, fuzzing, stateful sequences through the links it infers). The bounds and the
per-operation exceptions are in ``tests/fuzz/schemathesis.toml``; ``tests/fuzz/hooks.py``
adds the check that a 5xx is one of the service's deliberate answers (README, "HTTP
API"). The seed is fixed so that CI is repeatable; ``JUPYTER_SCRIPTING_FUZZ_SEED=<n>``
explores others.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .server_process import TOKEN, ServerProcess

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
#: A bound on the whole run (it takes about 40 s on 2 cores).
RUN_TIMEOUT = 300


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--ScriptingApp.sync_timeout=20")
    server.start()
    try:
        seed = os.environ.get("JUPYTER_SCRIPTING_FUZZ_SEED", "20261202")
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(CONFIG),
            "run",
            f"http://127.0.0.1:{server.port}/scripting/openapi.json",
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
    finally:
        server.stop()
