"""`make run`: start JupyterLab with jupyter_scripting, publish the demo, say how to call it.

The store is the embedded default (an SQLite file in the Jupyter data directory), so
scripts and logs survive restarts. Publishing is idempotent: a demo already published
under the same name gets a new version instead of a second copy.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEMOS = {"hello": HERE / "hello.ipynb"}


def call(base: str, token: str, path: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def wait_until_up(base: str, token: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"JupyterLab exited with {server.returncode}")
        try:
            call(base, token, "scripting/script")
            return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    sys.exit("JupyterLab did not answer within 120 s")


def publish(base: str, token: str) -> dict[str, str]:
    existing = {
        s["name"]: s["scriptId"]
        for s in call(base, token, "scripting/script?limit=1000")["scripts"]
    }
    ids = {}
    for name, path in DEMOS.items():
        body = {"name": name, "notebook": json.loads(path.read_text(encoding="utf-8"))}
        if name in existing:
            model = call(base, token, f"scripting/script/{existing[name]}", "PUT", body)
        else:
            model = call(base, token, "scripting/script", "POST", body)
        ids[name] = model["scriptId"]
    return ids


def main() -> None:
    port = int(os.environ.get("PORT", "8888"))
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command)
    # SIGTERM to this launcher stops JupyterLab too (through the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_until_up(base, token, server)
        ids = publish(base, token)
        hello = ids["hello"]
        print(
            f"""
==============================================================================
 jupyter_scripting is running: JupyterLab at {base}lab?token={token}

 The demo script "hello" is published as {hello}. Call it:

   export TOKEN={token}
   curl -X POST -H "Authorization: token $TOKEN" -H "Content-Type: application/json" \\
        -d '{{"name": "John Smith"}}' {base}scripting/script/{hello}/run

 and read its log:

   curl -H "Authorization: token $TOKEN" {base}scripting/log/script/{hello}

 In JupyterLab, the Scripts panel (the <> tab on the left) lists it: run it,
 read its logs. Open a notebook and click "Publish as script" to publish yours.

 Ctrl-C stops the server.
==============================================================================
""",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
