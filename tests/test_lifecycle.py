"""A real server process: SIGTERM after several runs still shuts it down cleanly.

Regression test for nbclient's ``async_setup_kernel``, which replaces the server's
SIGTERM/SIGINT handlers: had the runner used ``NotebookClient.async_execute()``, SIGTERM
after the first run would kill the server outright (exit -15, no cleanup, kernels left).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .helpers import load_notebook, notebook_of
from .server_process import ServerProcess

pytestmark = pytest.mark.run_path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, "--ScriptingApp.shutdown_grace=2")
    try:
        process.start()
        yield process
    finally:
        process.stop()


def test_sigterm_after_runs_shuts_down_cleanly(server: ServerProcess) -> None:
    hello = server.publish(load_notebook("hello"), name="hello")
    for name in ("a", "b", "c"):
        answer = server.call(f"scripting/script/{hello}/run", "POST", {"name": name})
        assert answer == (200, f"Hello {name}!".encode())
    slow = server.publish(notebook_of("import time; time.sleep(60)"), name="slow")
    outcome: list[object] = []

    def run_slow() -> None:
        try:
            outcome.append(server.call(f"scripting/script/{slow}/run"))
        except OSError as e:  # the connection closed with the server
            outcome.append(e)

    in_flight = threading.Thread(target=run_slow, daemon=True)
    in_flight.start()
    server_process = psutil.Process(server.pid)
    deadline = time.monotonic() + 30
    # Warm kernels and the fork server's zygote exist before any run: wait for the slow
    # run itself to be under way (in its log), then for its cell to be executing.
    while not any(entry["state"] == "running" for entry in server.log_entries(slow)):
        assert time.monotonic() < deadline, "the in-flight run never started"
        time.sleep(0.1)
    time.sleep(1.0)
    kernels = server_process.children(recursive=True)

    server.signal(signal.SIGTERM)
    returncode = server.wait(timeout=30)
    log = server.log()
    assert returncode == 0, log  # -15 would mean the default SIGTERM action killed it
    assert "Shutting down" in log
    _, alive = psutil.wait_procs(kernels, timeout=10)
    assert alive == [], f"kernel processes left behind: {alive}"
    in_flight.join(timeout=10)
    # Past the grace period the in-flight run was stopped, answered, and logged as such.
    ((status, body),) = outcome
    assert status == 500
    assert json.loads(body)["reason"] == "interrupted"
