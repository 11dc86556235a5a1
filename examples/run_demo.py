"""`make run`: start JupyterLab with jupyter_scripting, publish the demos, say how to call them.

    python examples/run_demo.py                 # JupyterLab on $PORT (8888), demos published
    python examples/run_demo.py --publish-only  # publish the demos into the store and exit

The store is the embedded default (an SQLite file in the Jupyter data directory), so
scripts and logs survive restarts. Publishing is idempotent: a demo already published
under the same name gets a new version instead of a second copy.

``--publish-only`` (what Binder's ``postBuild`` runs at image build time) starts a
temporary Jupyter server on a free loopback port with a random token, publishes the demos
through its HTTP API, and stops it: nothing is left running, and the published demos are in
the store the next server of this environment opens.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_scripting.cli.api import ScriptingAPI
from jupyter_scripting.cli.client import Client
from jupyter_scripting.cli.errors import CommandError

HERE = Path(__file__).parent
#: script name → notebook; the name is also how a new version finds the script again.
DEMOS = {
    "hello": HERE / "hello.ipynb",
    "json_api": HERE / "json_api.ipynb",
    "html_report": HERE / "html_report.ipynb",
    "chart": HERE / "chart.ipynb",
    "slow_job": HERE / "slow_job.ipynb",
    "greeting": HERE / "greeting.ipynb",
}
#: How each demo is called: (route and query, curl options, what it answers).
USAGE = {
    "hello": (
        "run",
        """-X POST -H "Content-Type: application/json" -d '{"name": "John Smith"}'""",
        "Hello John Smith!",
    ),
    "json_api": (
        "run",
        """-X POST -H "Content-Type: application/json" -d '{"value": 21.5, "unit": "C"}'""",
        """the temperature in C, F and K as JSON; 422 JSON on bad input (-d '{"value": "hot"}')""",
    ),
    "html_report": ("run?principal=2500&rate=3.5&years=5", "", "an HTML page with a table"),
    "chart": (
        "run?values=4,8,15,16,23,42",
        '-H "Accept: image/png" -o chart.png',
        "a PNG bar chart (SVG without Accept)",
    ),
    "slow_job": (
        "background?seconds=5",
        "-X POST",
        "202 {executionId}; its result in .../log/script/<id>/execution/<executionId>",
    ),
    "greeting": (
        "run",
        """-X POST -H "Content-Type: application/json" -d '{"name": "Ada", "count": 2}'""",
        """Hello Ada! Hello Ada! (typed parameters: 422 JSON on -d '{"count": "two"}')""",
    ),
}
START_TIMEOUT = 120.0


def wait_until_up(api: ScriptingAPI, server: subprocess.Popen[bytes]) -> None:
    """Wait until the extension answers, or exit if the server dies or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the Jupyter server exited with {server.returncode}")
        try:
            api.scripts(limit=1)
            return
        except CommandError:  # not listening yet, or not answering the API yet
            pass
        time.sleep(0.3)
    sys.exit(f"the Jupyter server did not answer within {START_TIMEOUT:g} s")


def publish(api: ScriptingAPI) -> dict[str, str]:
    """Publish every demo as `jupyter scripting publish` does (a script of the same name
    gets a new version); name → script id."""
    ids = {}
    for name, path in DEMOS.items():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        ids[name] = api.publish(notebook, name).script["scriptId"]
    return ids


def usage(base: str, ids: dict[str, str]) -> str:
    """How to call each published demo with curl (``$TOKEN`` holding the token)."""
    lines = []
    for name, script_id in ids.items():
        route, options, answers = USAGE[name]
        url = f"{base}scripting/script/{script_id}/{route}"
        lines += [
            f" {name} ({script_id}): {answers}",
            "   "
            + " ".join(["curl", '-H "Authorization: token $TOKEN"', options]).rstrip()
            + " \\",
            f'        "{url}"' if "?" in url else f"        {url}",
            "",
        ]
    return "\n".join(lines)


def server_command(module: str, port: int, token: str, *settings: str) -> list[str]:
    """``python -m <module>`` (jupyterlab or jupyter_server) on loopback with our token."""
    command = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        *settings,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server cleans up), then SIGKILL after 30 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish_only() -> None:
    """Publish the demos through a temporary server that is stopped afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    command = server_command(
        "jupyter_server",
        port,
        token,
        "--ServerApp.jpserver_extensions={'jupyter_scripting': True}",
        # Publishing runs nothing: no warm kernels, no zygote.
        "--ScriptingApp.kernel_pool_size=0",
        "--ScriptingApp.fork_kernelspecs=[]",
    )
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            api = ScriptingAPI(Client(base.rstrip("/"), token))
            wait_until_up(api, server)
            ids = publish(api)
        except BaseException:
            stop(server)
            log.seek(0)  # what the server said, to explain the failure
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            stop(server)
    print(f"Published {len(ids)} demo scripts into the default store:")
    for name, script_id in ids.items():
        print(f"  {name:12} {script_id}")


def serve(port: int) -> None:
    """JupyterLab on ``port`` with the demos published, until Ctrl-C or SIGTERM."""
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(server_command("jupyterlab", port, token))
    # SIGTERM to this launcher stops JupyterLab too (through the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        api = ScriptingAPI(Client(base.rstrip("/"), token))
        wait_until_up(api, server)
        ids = publish(api)
        rule = "=" * 78
        print(
            f"""
{rule}
 jupyter_scripting is running: JupyterLab at {base}lab?token={token}

 The demo scripts are published. Call them:

   export TOKEN={token}

{usage(base, ids)}
 Read a script's log:  curl -H "Authorization: token $TOKEN" \\
                            {base}scripting/log/script/<scriptId>

 Or with the command line (source .venv/bin/activate first, in a checkout):

   jupyter scripting list
   jupyter scripting run {ids["hello"]} --data '{{"name": "John Smith"}}'
   jupyter scripting logs {ids["hello"]}

 In JupyterLab, the Scripts panel (the <> tab on the left) lists them: run them,
 read their logs. Open a notebook and click "Publish as script" to publish yours.

 Ctrl-C stops the server.
{rule}
""",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--publish-only",
        action="store_true",
        help="publish the demos into the store through a temporary server, then exit",
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8888")), help="JupyterLab's port"
    )
    args = parser.parse_args(argv)
    try:
        if args.publish_only:
            publish_only()
        else:
            serve(args.port)
    except CommandError as error:  # the server refused a demo, or could not be reached
        sys.exit(f"run_demo: could not publish the demos: {error}")


if __name__ == "__main__":
    main()
