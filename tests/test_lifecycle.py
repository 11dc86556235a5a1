"""A real server process: SIGTERM after several runs still shuts it down cleanly.

Regression test for nbclient's ``async_setup_kernel``, which replaces the server's
SIGTERM/SIGINT handlers: had the runner used ``NotebookClient.async_execute()``, SIGTERM
after the first run would kill the server outright (exit -15, no cleanup, kernels left).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from .helpers import load_notebook, notebook_of

TOKEN = "lifecycle-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, path: str, method: str = "GET", body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def server(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={tmp_path}",
            "--ServerApp.jpserver_extensions={'jupyter_scripting': True}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(port, "scripting/script")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield process, port, tmp_path / "server.log"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def test_sigterm_after_runs_shuts_down_cleanly(server):
    process, port, log_path = server
    status, body = call(
        port, "scripting/script", "POST", {"name": "hello", "notebook": load_notebook("hello")}
    )
    assert status == 201
    hello = json.loads(body)["scriptId"]
    for name in ("a", "b", "c"):
        assert call(port, f"scripting/script/{hello}/run", "POST", {"name": name}) == (
            200,
            f"Hello {name}!".encode(),
        )
    status, body = call(
        port,
        "scripting/script",
        "POST",
        {"name": "slow", "notebook": notebook_of("import time; time.sleep(60)")},
    )
    slow = json.loads(body)["scriptId"]
    outcome: list[object] = []

    def run_slow() -> None:
        try:
            outcome.append(call(port, f"scripting/script/{slow}/run"))
        except OSError as e:  # the connection closed with the server
            outcome.append(e)

    in_flight = threading.Thread(target=run_slow, daemon=True)
    in_flight.start()
    server_process = psutil.Process(process.pid)
    deadline = time.monotonic() + 30
    while not server_process.children(recursive=True):  # the slow run's kernel
        assert time.monotonic() < deadline, "the in-flight run's kernel never started"
        time.sleep(0.1)
    kernels = server_process.children(recursive=True)

    process.send_signal(signal.SIGTERM)
    returncode = process.wait(timeout=30)
    log = log_path.read_text()
    assert returncode == 0, log  # -15 would mean the default SIGTERM action killed it
    assert "Shutting down" in log
    _, alive = psutil.wait_procs(kernels, timeout=10)
    assert alive == [], f"kernel processes left behind: {alive}"
    in_flight.join(timeout=10)
    # The in-flight run was answered, and its log says it was interrupted.
    ((status, body),) = outcome
    assert status == 500
    assert json.loads(body)["reason"] == "interrupted"
