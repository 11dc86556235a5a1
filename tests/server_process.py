"""A real ``python -m jupyter_server`` with the extension, for tests that need a whole
process: signals, crashes, restarts, the real HTTP server's limits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "server-process-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_test_config(config_dir: Path) -> None:
    """The pool and fork-server switches of `make test`'s second pass, as a config file
    (settings given on the command line still win)."""
    scripting: dict[str, Any] = {}
    if (pool_size := os.environ.get("JUPYTER_SCRIPTING_TEST_POOL_SIZE")) is not None:
        scripting["kernel_pool_size"] = int(pool_size)
    if os.environ.get("JUPYTER_SCRIPTING_TEST_FORK") == "0":
        scripting["fork_kernelspecs"] = []
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({"ScriptingApp": scripting}))


class ServerProcess:
    """One server process on a data directory; ``start`` again after ``kill`` to restart."""

    def __init__(self, home: Path, *settings: str, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.settings = list(settings)
        self.env = env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    def start(self, timeout: float = 60, expect: int = 200) -> None:
        """Start the server; return once ``GET /scripting/script`` answers ``expect``."""
        self.launch()
        self.wait_ready(timeout, expect)

    def wait_ready(self, timeout: float = 60, expect: int = 200) -> None:
        """Return once the launched server's ``GET /scripting/script`` answers ``expect``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.call("scripting/script")[0] == expect:
                    return
            except OSError:
                pass
            assert self.process is not None and self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "the server did not start:\n" + self.log()
            time.sleep(0.2)

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the server process (without waiting for it to answer)."""
        env = {
            **os.environ,
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            **self.env,
        }
        write_test_config(self.home / "config")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    f"--port={self.port}",
                    "--ServerApp.port_retries=0",
                    "--ip=127.0.0.1",
                    "--no-browser",
                    "--allow-root",
                    f"--IdentityProvider.token={TOKEN}",
                    f"--ServerApp.root_dir={self.home}",
                    "--ServerApp.jpserver_extensions={'jupyter_scripting': True}",
                    *self.settings,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def call(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        timeout: float = 60,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """(status, body) of a request with the server's token (``body`` as JSON)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {TOKEN}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def log_entries(self, script_id: str) -> list[dict[str, Any]]:
        """The script's execution log (latest version), newest first."""
        status, body = self.call(f"scripting/log/script/{script_id}?limit=1000")
        assert status == 200, body
        return list(json.loads(body)["filteredLogs"])

    def publish(self, notebook: dict[str, Any], name: str = "script") -> str:
        status, body = self.call("scripting/script", "POST", {"name": name, "notebook": notebook})
        assert status == 201, body
        return str(json.loads(body)["scriptId"])

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        self.signal(signal.SIGKILL)
        self.wait(30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 30 s."""
        if self.process is not None:
            stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM (a server cleans up), then SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
