"""``jupyter scripting publish|list|run|logs|key`` against a real server.

The real command runs in a subprocess (``python -m jupyter_scripting.cli``) against one
real ``jupyter_server`` process with the extension (``ServerProcess``), shared by the
module; each invocation costs about half a second, so the tests group their checks.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import select
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_scripting.cli.api import ScriptingAPI
from jupyter_scripting.cli.client import Client

from .helpers import notebook_of
from .server_process import TOKEN, ServerProcess, free_port

NOTEBOOKS = Path(__file__).parent / "notebooks"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KEY = re.compile(r"jsk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")
COMMAND_TIMEOUT = 90


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("cli-server")) as process:
        yield process


@pytest.fixture
def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path)


class Cli:
    """The command, with a clean environment (an empty runtime directory: no server to
    discover) and ``--url``/``--token`` of the test server unless told otherwise."""

    def __init__(self, server: ServerProcess, cwd: Path) -> None:
        self.server = server
        self.cwd = cwd
        self.url = f"http://127.0.0.1:{server.port}"
        (cwd / "runtime").mkdir(exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        env.update(JUPYTER_RUNTIME_DIR=str(self.cwd / "runtime"), PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    def run(
        self, *args: str, server: bool = True, env: dict[str, str] | None = None, stdin: bytes = b""
    ) -> Result:
        options = ["--url", self.url, "--token", TOKEN] if server else []
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_scripting.cli", *args, *options],
            env=env or self.env(),
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr.decode(errors="replace"))
        assert "Traceback (most recent call last)" not in result.stderr, result
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, result
        return result

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """Run a command that must fail with ``code``; its complaint (stderr)."""
        result = self.run(*args, **kwargs)
        assert result.returncode == code, result
        assert result.stderr.strip(), result
        return result.stderr


def notebook_file(path: Path, source: str, metadata: dict[str, Any] | None = None) -> Path:
    notebook = new_notebook(cells=[new_code_cell(source)], metadata=metadata or {})
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def load_notebook(name: str) -> dict[str, Any]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def finished(server: ServerProcess, script_id: str, execution_id: str) -> None:
    """Wait until the execution is in the log with its status."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entries = {e["executionId"]: e for e in server.log_entries(script_id)}
        if entries.get(execution_id, {}).get("statusCode") is not None:
            return
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish")


# -- publish and list -----------------------------------------------------------------------
def test_publish_creates_then_makes_new_versions(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "greet.ipynb"
    path.write_bytes((NOTEBOOKS / "hello.ipynb").read_bytes())
    created = cli.ok("publish", str(path))
    assert "Created script 'greet', version 1." in created.text
    match = UUID.search(created.text)
    assert match is not None, created.text
    script_id = match.group()
    assert f"{cli.url}/scripting/script/{script_id}/run" in created.text

    # Same name (the file's stem): a new version of that script, not a copy.
    again = cli.ok("publish", str(path))
    assert "Published version 2 of script 'greet'." in again.text
    assert script_id in again.text

    # The id JupyterLab writes into the metadata wins over the name; the name is kept.
    tagged = notebook_file(
        tmp_path / "other-file-name.ipynb",
        'print("tagged")',
        {"jupyter_scripting": {"scriptId": script_id, "name": "greet"}},
    )
    model = json.loads(cli.ok("publish", str(tagged), "--json").stdout)
    assert (model["scriptId"], model["version"], model["name"]) == (script_id, 3, "greet")
    # A metadata id the server does not know: published by name (here: a new script).
    stale = notebook_file(
        tmp_path / "stale.ipynb",
        'print("stale")',
        {"jupyter_scripting": {"scriptId": "00000000-0000-4000-8000-000000000000"}},
    )
    assert "Created script 'stale', version 1." in cli.ok("publish", str(stale)).text

    # --id explicitly, with a new --name.
    renamed = json.loads(
        cli.ok("publish", str(path), "--id", script_id, "--name", "greeting", "--json").stdout
    )
    assert (renamed["scriptId"], renamed["version"], renamed["name"]) == (
        script_id,
        4,
        "greeting",
    )
    status, body = cli.server.call(f"scripting/script/{script_id}/notebook")
    assert status == 200
    assert "Hello" in json.dumps(json.loads(body)["cells"])

    # list: a table, and JSON.
    table = cli.ok("list").text.splitlines()
    assert table[0].split() == ["ID", "NAME", "VERSION", "UPDATED", "LAST", "RUN"]
    row = next(line for line in table if line.startswith(script_id))
    assert row.split()[1:3] == ["greeting", "4"]
    assert row.split()[-1] == "-"  # never run
    listed = json.loads(cli.ok("list", "--json").stdout)
    assert listed["moreElements"] is False
    assert {s["scriptId"]: s["version"] for s in listed["scripts"]}[script_id] == 4


def test_publish_refuses_broken_notebooks(cli: Cli, tmp_path: Path) -> None:
    not_a_notebook = tmp_path / "broken.ipynb"
    cells = [{"cell_type": "sorcery", "source": "", "metadata": {}}]
    not_a_notebook.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    message = cli.fails("publish", str(not_a_notebook))
    # The server's own explanation, as it said it.
    assert message.startswith("jupyter scripting: 400 bad-request: "), message
    assert "not valid" in message

    not_json = tmp_path / "garbage.ipynb"
    not_json.write_text("{ this is not json")
    message = cli.fails("publish", str(not_json), code=2)
    assert "garbage.ipynb is not a notebook: invalid JSON" in message
    message = cli.fails("publish", str(tmp_path / "missing.ipynb"), code=2)
    assert "Cannot read" in message
    assert "missing.ipynb" in message
    assert "No such file" in message
    names = {s["name"] for s in json.loads(cli.server.call("scripting/script")[1])["scripts"]}
    assert not names & {"broken", "garbage", "missing"}


def test_list_follows_more_elements(server: ServerProcess) -> None:
    for n in range(3):
        server.publish(load_notebook("nothing"), name=f"paged-{n}")
    api = ScriptingAPI(Client(f"http://127.0.0.1:{server.port}", TOKEN))
    scripts = api.list_scripts(page_size=2)
    _, body = server.call("scripting/script?limit=1000")
    expected = [s["scriptId"] for s in json.loads(body)["scripts"]]
    assert len(expected) >= 3
    assert [s["scriptId"] for s in scripts] == expected


def test_show_prints_the_settings_and_the_parameters(cli: Cli) -> None:
    typed = cli.server.publish(load_notebook("papermill_typed"), name="typed")
    shown = cli.ok("show", typed).text
    assert "Script 'typed'" in shown and f"ID:         {typed}" in shown
    assert "Parameters: strict (by the notebook)" in shown
    rows = {line.split()[0]: line.split(None, 3)[1:] for line in shown.splitlines()[10:]}
    assert rows["PARAMETER"] == ["TYPE", "DEFAULT", "DESCRIPTION"]
    assert rows["a"] == ["number", "2.25", "Variable a"]
    assert rows["d"] == ["array", "['a',", "'b']  Some strings"]
    assert rows["f"] == ["any", "None", "Anything at all"]
    both = json.loads(cli.ok("show", typed, "--json").stdout)
    assert both["script"]["scriptId"] == typed
    assert both["schema"]["properties"]["c"]["type"] == "integer"
    document = json.loads(cli.ok("show", typed, "--openapi").stdout)
    assert document["info"]["title"] == "typed"
    assert f"/scripting/script/{typed}/run" in document["paths"]
    # A script without a parameters cell, and one that does not exist.
    plain = cli.server.publish(load_notebook("nothing"), name="plain")
    assert "It takes no parameters" in cli.ok("show", plain).text
    missing = cli.fails("show", "00000000-0000-4000-8000-000000000000")
    assert "404" in missing and "jupyter scripting list" in missing


def test_schedules_added_listed_paused_resumed_deleted(cli: Cli) -> None:
    typed = cli.server.publish(load_notebook("papermill_typed"), name="scheduled")
    assert cli.ok("schedule", "list", typed).text == "No schedules.\n"
    added = cli.ok(
        "schedule", "add", typed, "0 9 * * 1-5", "--timezone", "Europe/Berlin", "-d", '{"c": 2}'
    ).text
    schedule_id = UUID.findall(added)[0]
    assert "0 9 * * 1-5" in added and "Europe/Berlin" in added and "active" in added
    assert '{"c": 2}' in added
    listed = json.loads(cli.ok("schedule", "list", typed, "--json").stdout)["schedules"]
    assert [s["scheduleId"] for s in listed] == [schedule_id]
    assert len(listed[0]["nextRuns"]) == 3
    paused = cli.ok("schedule", "pause", typed, schedule_id).text
    assert "is paused" in paused and "paused" in paused.splitlines()[-1]
    assert "is active" in cli.ok("schedule", "resume", typed, schedule_id).text
    # The server's refusals, said as they are.
    assert "not a cron expression" in cli.fails("schedule", "add", typed, "every day")
    assert "422" in cli.fails("schedule", "add", typed, "@daily", "-d", '{"c": "x"}')
    assert "--data is not JSON" in cli.fails("schedule", "add", typed, "@daily", "-d", "{", code=2)
    assert "Deleted schedule" in cli.ok("schedule", "delete", typed, schedule_id).text
    gone = cli.fails("schedule", "delete", typed, schedule_id)
    assert "404" in gone and "schedule list" in gone


# -- run --------------------------------------------------------------------------------------
def test_webhook_set_shown_delivered_and_cleared(cli: Cli) -> None:
    script_id = cli.server.publish(notebook_of("print('hooked')"), name="hooked")
    assert cli.ok("webhook", "show", script_id).text == "No webhook.\n"
    refused = cli.fails("webhook", "set", script_id, "http://10.0.0.7/hook")
    assert "403" in refused and "webhook_allowed_hosts" in refused
    assert "role" not in refused
    bad_events = cli.fails("webhook", "set", script_id, "http://x/", "--events", "x", code=2)
    assert "--events" in bad_events
    # A public address (nothing listens there from here: the delivery stays pending).
    url = "http://93.184.216.34/hook"
    made = cli.ok("webhook", "set", script_id, url, "--events", "failed,finished").text
    assert f"{url} (finished, failed; background runs)" in made
    assert "Signing secret (shown once" in made and "whsec_" in made
    again = cli.ok("webhook", "set", script_id, url, "--sync").text
    assert "whsec_" not in again and "background and synchronous runs" in again
    assert url in cli.ok("webhook", "show", script_id).text
    _, body = cli.server.call(f"scripting/script/{script_id}/background", "POST", {})
    execution_id = json.loads(body)["executionId"]
    finished(cli.server, script_id, execution_id)
    listed = cli.ok("webhook", "deliveries", script_id, execution_id).text
    assert url in listed and "DELIVERY" in listed
    as_json = json.loads(cli.ok("webhook", "deliveries", script_id, execution_id, "--json").stdout)
    assert [d["url"] for d in as_json["deliveries"]] == [url]
    assert "has a signing secret" in cli.ok("webhook", "secret").text
    rotated = cli.ok("webhook", "secret", "--rotate").text
    assert rotated.startswith("New signing secret (shown once): whsec_")
    assert "Removed the webhook" in cli.ok("webhook", "clear", script_id).text
    assert cli.ok("webhook", "show", script_id).text == "No webhook.\n"
    assert "404" in cli.fails("webhook", "deliveries", script_id, str(uuid.uuid4()))


def test_secrets_set_listed_used_by_a_run_and_deleted(cli: Cli, tmp_path: Path) -> None:
    script_id = cli.server.publish(
        notebook_of("import os\nprint(secrets['CLI_TOKEN'], os.environ['CLI_REGION'])"),
        name="uses secrets",
    )
    # The value from a pipe (its trailing newline dropped), or from a file.
    made = cli.ok("secret", "set", "CLI_TOKEN", stdin=b"tok-from-the-pipe\n").text
    assert made == "Created the secret CLI_TOKEN.\n"
    (tmp_path / "region").write_text("eu-1\n", encoding="utf-8")
    plain = cli.ok("secret", "set", "CLI_REGION", "--plain", "--from-file", "region").text
    assert plain == "Created the plain variable CLI_REGION.\n"
    assert "Replaced" in cli.ok("secret", "set", "CLI_TOKEN", stdin=b"tok-the-second").text
    listed = cli.ok("secret", "list").text
    assert "CLI_TOKEN" in listed and "secret" in listed and "CLI_REGION" in listed
    assert "tok-" not in listed and "eu-1" not in listed
    assert "Value: eu-1" in cli.ok("secret", "show", "CLI_REGION").text
    shown = json.loads(cli.ok("secret", "show", "CLI_TOKEN", "--json").stdout)
    assert shown["secret"] is True and "value" not in shown
    assert "get no variables" in cli.ok("secret", "use", script_id).text
    used = cli.ok("secret", "use", script_id, "--set", "CLI_TOKEN", "CLI_REGION").text
    assert used == f"Runs of {script_id} get: CLI_TOKEN, CLI_REGION\n"
    assert "CLI_TOKEN, CLI_REGION" in cli.ok("secret", "use", script_id).text
    # The run read the secret; its answer shows it masked.
    assert cli.ok("run", script_id, "--quiet").stdout == b"*** eu-1"
    assert "400" in cli.fails("secret", "set", "CLI_SHORT", stdin=b"abc")
    assert "--from-file" in cli.fails("secret", "set", "CLI_X", "--from-file", "missing", code=2)
    assert cli.ok("secret", "delete", "CLI_REGION").text == "Deleted CLI_REGION.\n"
    gone = cli.fails("secret", "show", "CLI_REGION")
    assert "404" in gone and "secret list" in gone
    assert "give a SECRET_COMMAND" in cli.fails("secret", code=2)


def test_retries_shown_set_and_turned_off(cli: Cli) -> None:
    script_id = cli.server.publish(notebook_of("1"), name="retried")
    assert cli.ok("retries", script_id).text == f"Retries of {script_id}: none\n"
    made = cli.ok("retries", script_id, "--max", "3", "--on", "502,504", "--backoff", "60").text
    assert "up to 3 more attempts on 502, 504, 60 s after a failure" in made
    shown = json.loads(cli.ok("retries", script_id, "--json").stdout)
    assert shown["retries"] == {"max": 3, "on": [502, 504], "backoff": 60.0}
    assert "Retries:    up to 3 more" in cli.ok("show", script_id).text
    assert "400" in cli.fails("retries", script_id, "--max", "11")
    assert "--max" in cli.fails("retries", script_id, "--on", "502", code=2)
    assert "none" in cli.ok("retries", script_id, "--off").text


def test_run_synchronously(cli: Cli, tmp_path: Path) -> None:
    hello = cli.server.publish(load_notebook("hello"), name="hello")
    result = cli.ok("run", hello, "--data", '{"name": "John Smith"}')
    assert result.stdout == b"Hello John Smith!"
    assert result.stderr.startswith("200 OK · text/plain; charset=utf-8 · 17 bytes"), result
    assert UUID.search(result.stderr)

    raises = cli.server.publish(load_notebook("raises"), name="raises")
    failed = cli.run("run", raises)
    assert failed.returncode == 1, failed
    assert failed.stdout == b""
    assert failed.stderr.startswith("jupyter scripting: 502 script-error: "), failed
    assert "bad input" in failed.stderr
    assert f"jupyter scripting logs {raises} " in failed.stderr
    # list says how each one's last run went.
    rows = {line.split()[0]: line.split() for line in cli.ok("list").text.splitlines()[1:]}
    assert rows[hello][-2] == "200" and rows[raises][-2] == "502"

    # --json, with a method, headers, query parameters and a body from a file.
    echo = cli.server.publish(load_notebook("echo"), name="echo")
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    answer = json.loads(
        cli.ok(
            "run", echo, "--method", "put", "--data-file", str(data),
            "--header", "X-Trace: abc 1", "--query", "n=1", "--query", "n=2", "--json",
        ).stdout
    )  # fmt: skip
    assert answer["status"] == 200
    assert answer["base64"] is False
    assert UUID.fullmatch(answer["executionId"])
    assert answer["contentType"].startswith("application/json")
    assert answer["headers"]["X-Execution-Id"] == answer["executionId"]
    seen = json.loads(answer["body"])
    assert seen["method"] == "PUT"
    assert seen["query"] == {"n": ["1", "2"]}
    assert seen["content_type"] == "text/csv"
    assert seen["text"] == "a,b\n1,2\n"
    assert {k.lower(): v for k, v in seen["headers"].items()}["x-trace"] == "abc 1"
    # --data that is not JSON is sent as text by default.
    answer = json.loads(cli.ok("run", echo, "--data", "plain words", "--json").stdout)
    seen = json.loads(answer["body"])
    assert (seen["method"], seen["content_type"], seen["text"]) == (
        "POST",
        "text/plain",
        "plain words",
    )


def test_run_binary_answers(cli: Cli, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4  # not UTF-8, NULs and CRs included
    binary = cli.server.publish(load_notebook("binary_echo"), name="binary")
    result = cli.ok("run", binary, "--data-file", "-", stdin=payload)
    assert result.stdout == payload
    assert "application/octet-stream" in result.stderr

    # A figure chosen through Accept, to a file and as JSON (base64).
    rich = cli.server.publish(load_notebook("rich"), name="rich")
    png = tmp_path / "figure.png"
    model = json.loads(
        cli.ok("run", rich, "--accept", "image/png", "--output", str(png), "--json").stdout
    )
    assert model["contentType"] == "image/png"
    assert model["base64"] is True
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert base64.b64decode(model["body"]) == png.read_bytes()


# -- background ---------------------------------------------------------------------------------
def test_background_run_then_its_log(cli: Cli, tmp_path: Path) -> None:
    hello = cli.server.publish(load_notebook("hello"), name="hello-background")
    queued = cli.ok("run", hello, "--background", "--data", '{"name": "Ada"}')
    execution = queued.text.strip()
    assert UUID.fullmatch(execution), queued
    assert f"{cli.url}/scripting/log/script/{hello}/execution/{execution}" in queued.stderr
    finished(cli.server, hello, execution)

    # The log: a table, JSON, one execution's content, its executed notebook.
    cli.ok("run", hello, "--data", '{"name": "Bo"}', "--quiet")
    table = cli.ok("logs", hello).text.splitlines()
    assert table[0].split() == [
        "EXECUTION", "ID", "DATE", "STATUS", "STATE", "MODE", "METHOD", "VERSION", "DURATION",
    ]  # fmt: skip
    rows = [line.split() for line in table[1:]]
    assert [row[0] for row in rows][1] == execution  # newest first: the sync run is first
    assert rows[1][2:7] == ["200", "finished", "background", "POST", "1"]
    assert rows[0][4] == "sync"
    page = json.loads(cli.ok("logs", hello, "--limit", "1", "--json").stdout)
    assert len(page["filteredLogs"]) == 1
    assert page["moreElements"] is True

    content = cli.ok("logs", hello, execution)
    assert content.stdout == b"Hello Ada!"
    assert "200 OK" in content.stderr
    target = tmp_path / "executed.ipynb"
    written = cli.ok("logs", hello, execution, "--notebook", str(target))
    assert str(target) in written.text
    executed = nbformat.read(target, as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("Hello Ada!" in o.get("text", "") for o in outputs)
    assert "Hello Bo!" in cli.ok("logs", hello, "latest").text


def test_background_wait_shows_progress_then_the_answer(cli: Cli, tmp_path: Path) -> None:
    slow = notebook_file(
        tmp_path / "slow.ipynb", 'import time\ntime.sleep(1.5)\nprint("slept well")'
    )
    script = json.loads(cli.ok("publish", str(slow), "--json").stdout)["scriptId"]
    result = cli.ok("run", script, "--background", "--wait")
    assert result.stdout == b"slept well"
    lines = result.stderr.splitlines()
    # Not a terminal: plain lines, the state first, then how it ended, then the status.
    progress = [line for line in lines if re.search(r": (queued|running) \(", line)]
    assert progress, result.stderr
    assert any("finished, 200 OK, after" in line for line in lines), result.stderr
    assert lines[-1].startswith("200 OK · text/plain")

    # stdout and stderr on one pipe (as `2>&1` makes them): the answer, then the status
    # line on a line of its own.
    both = subprocess.run(
        [sys.executable, "-m", "jupyter_scripting.cli", "run", script, "--background",
         "--wait", "--url", cli.url, "--token", TOKEN],
        env=cli.env(), cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=COMMAND_TIMEOUT, check=True,
    )  # fmt: skip
    shown = both.stdout.decode().splitlines()
    assert "slept well" in shown, shown
    assert shown[-1].startswith("200 OK · text/plain"), shown

    raises = cli.server.publish(load_notebook("raises"), name="raises-background")
    failed = cli.run("run", raises, "--background", "--wait")
    assert failed.returncode == 1, failed
    assert "jupyter scripting: 502 script-error: " in failed.stderr
    assert "bad input" in failed.stderr
    assert failed.stdout == b""
    # Its log shows the error and the traceback.
    log = cli.ok("logs", raises, "latest").text
    assert log.startswith("502 script-error: ")
    assert "ValueError" in log


def test_background_follow_prints_the_output_live_then_the_answer(cli: Cli, tmp_path: Path) -> None:
    ticking = notebook_file(
        tmp_path / "ticking.ipynb",
        "import time\nfor i in range(3):\n    print(f'tick {i}', flush=True)\n"
        "    time.sleep(1)\nresponse.write('done')",
    )
    script = json.loads(cli.ok("publish", str(ticking), "--json").stdout)["scriptId"]
    with subprocess.Popen(
        [sys.executable, "-m", "jupyter_scripting.cli", "run", script, "--background",
         "--follow", "--url", cli.url, "--token", TOKEN],
        env=cli.env(), cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        assert process.stderr is not None and process.stdout is not None
        seen = []
        for raw in process.stderr:
            seen.append(raw.decode())
            if raw.startswith(b"tick 0"):
                # Printed while the run goes on (two more seconds of ticks).
                assert process.poll() is None, seen
                break
        rest = process.stderr.read().decode()
        out = process.stdout.read()
        assert process.wait(COMMAND_TIMEOUT) == 0, [*seen, rest]
    lines = "".join(seen).splitlines() + rest.splitlines()
    assert "[cell 1 of 1]" in lines, lines
    assert [line for line in lines if line.startswith("tick")] == ["tick 0", "tick 1", "tick 2"]
    assert lines[-1].startswith("200 OK · text/plain"), lines
    assert out == b"done"
    refused = cli.run("run", script, "--follow")
    assert refused.returncode != 0 and "--background" in refused.stderr


def test_background_wait_on_a_terminal_redraws_one_line(cli: Cli, tmp_path: Path) -> None:
    slow = notebook_file(tmp_path / "slow-tty.ipynb", "import time\ntime.sleep(1.5)\nprint(1)")
    script = json.loads(cli.ok("publish", str(slow), "--json").stdout)["scriptId"]
    controller, terminal = pty.openpty()
    seen = bytearray()

    def read() -> None:
        while True:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                seen.extend(chunk)
            elif process.poll() is not None:
                return

    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_scripting.cli", "run", script, "--background",
         "--wait", "--url", cli.url, "--token", TOKEN],
        env=cli.env(), stdout=subprocess.PIPE, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    reader = threading.Thread(target=read)
    reader.start()
    stdout, _ = process.communicate(timeout=COMMAND_TIMEOUT)
    reader.join(timeout=10)
    os.close(controller)
    assert process.returncode == 0
    assert stdout == b"1"
    text = seen.decode(errors="replace")
    assert text.count("\r\x1b[K") >= 3, text  # redrawn in place, several times
    assert re.search(r"[|/\\-] (queued|running) · \d+\.\d s · execution ", text), text
    assert "finished, 200 OK, after" in text


# -- keys through the server, environment variables, failures -------------------------------------
def test_keys_through_the_server_and_the_environment(cli: Cli) -> None:
    created = cli.ok("key", "create", "--user", "ada", "--role", "developer")
    lines = created.text.splitlines()
    key = lines[-1]
    assert KEY.fullmatch(key), created
    assert "for user 'ada' of tenant 'default', role developer" in lines[0]
    key_id = key.split("_")[1]

    # The key, from the environment instead of options, lists the scripts.
    env = cli.env(JUPYTER_SCRIPTING_URL=cli.url + "/", JUPYTER_SCRIPTING_TOKEN=key)
    script = cli.server.publish(load_notebook("nothing"), name="seen-with-a-key")
    assert script in cli.ok("list", server=False, env=env).text
    listing = cli.ok("key", "list", "--json").stdout
    assert key_id in [k["keyId"] for k in json.loads(listing)["keys"]]
    assert "--tenant" in cli.fails("key", "create", "--user", "x", "--role", "admin",
                                   "--tenant", "other", code=2)  # fmt: skip

    # A runner key may run scripts but not read logs: 403, and why.
    runner = cli.ok("key", "create", "--user", "bot", "--role", "runner").text.splitlines()[-1]
    runner_env = cli.env(JUPYTER_SCRIPTING_URL=cli.url, JUPYTER_SCRIPTING_TOKEN=runner)
    message = cli.fails("logs", "00000000-0000-4000-8000-000000000000", server=False,
                        env=runner_env)  # fmt: skip
    assert message.startswith("jupyter scripting: 403 "), message
    assert "role" in message

    revoked = cli.ok("key", "revoke", key_id).text
    assert f"API key {key_id} of user 'ada' of tenant 'default' is revoked (since " in revoked
    message = cli.fails("list", server=False, env=env)
    assert "jupyter scripting: 401 " in message
    assert "refused" in message
    assert "JUPYTER_SCRIPTING_TOKEN" in message


def test_failures_have_clear_messages_and_exit_codes(cli: Cli) -> None:
    message = cli.fails("list", "--token", "not-the-token", server=False,
                        env=cli.env(JUPYTER_SCRIPTING_URL=cli.url))  # fmt: skip
    assert message.startswith("jupyter scripting: 401 not-authenticated: "), message
    assert "--token" in message
    assert "missing" in cli.fails("list", server=False, env=cli.env(JUPYTER_SCRIPTING_URL=cli.url))

    nobody = f"http://127.0.0.1:{free_port()}"
    message = cli.fails("list", "--url", nobody, server=False, code=3)
    assert f"Could not reach the server at {nobody}" in message
    # No URL anywhere and no running server to find.
    assert "--url" in cli.fails("list", server=False, code=3)

    assert "ID" in cli.fails("run", code=2)
    assert "--background" in cli.fails("run", "x", "--wait", code=2)
    assert "Name: value" in cli.fails("run", "x", "--header", "nocolon", code=2)
    assert "invalid choice" in cli.fails("frobnicate", code=2)
    message = cli.fails("run", "00000000-0000-4000-8000-000000000000")
    assert message.startswith("jupyter scripting: 404 not-found: "), message


def test_finds_the_one_running_server(cli: Cli) -> None:
    # The server's runtime directory holds its jpserver-*.json (URL and token).
    env = cli.env(JUPYTER_RUNTIME_DIR=str(cli.server.home / "runtime"))
    probe = (
        "import atexit, sys\n"
        "heavy = ('tornado', 'jupyter_server', 'sqlalchemy', 'traitlets', 'zmq')\n"
        "atexit.register(lambda: print('IMPORTED', sorted({m.split('.')[0] for m in "
        "sys.modules} & set(heavy)), file=sys.stderr))\n"
        "from jupyter_scripting.cli import main\n"
        "main(['list', '--json'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, timeout=COMMAND_TIMEOUT,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done
    assert "scripts" in json.loads(done.stdout)
    # The client commands start fast: no server, database or traitlets machinery.
    assert "IMPORTED []" in done.stderr.decode(), done.stderr
    # --url without a token: the token of the running server at that URL.
    assert cli.ok("list", "--url", cli.url, server=False, env=env).text
    # The URL Jupyter prints to open JupyterLab: its base URL and its token.
    opened = f"{cli.url}/lab?token={TOKEN}"
    assert cli.ok("list", "--url", opened, server=False).text


def test_ctrl_c_stops_waiting_but_not_the_run(cli: Cli, tmp_path: Path) -> None:
    slow = notebook_file(tmp_path / "slower.ipynb", "import time\ntime.sleep(5)\nprint('done')")
    script = json.loads(cli.ok("publish", str(slow), "--json").stdout)["scriptId"]
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_scripting.cli", "run", script, "--background",
         "--wait", "--url", cli.url, "--token", TOKEN],
        env=cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    first = process.stderr.readline().decode()  # the first progress line: it is waiting
    assert re.search(r"^Execution \S+: (queued|running) \(", first), first
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
    assert process.returncode == 130, (stdout, stderr)
    message = stderr.decode()
    assert "Traceback" not in message
    assert "Stopped waiting" in message
    execution = first.split()[1].rstrip(":")
    assert f"jupyter scripting logs {script} {execution}" in message
    still = cli.ok("logs", script, execution)
    assert still.stdout == b""
    assert f"Execution {execution} is running: it has no content yet." in still.stderr
    finished(cli.server, script, execution)  # the run went on
    assert cli.ok("logs", script, execution).stdout == b"done"


class TlsServerProcess(ServerProcess):
    """The server on https, with a self-signed certificate for 127.0.0.1."""

    def __init__(self, home: Path, cert: Path, key: Path) -> None:
        super().__init__(home, f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={key}")
        self.context = ssl.create_default_context(cafile=str(cert))

    def call(self, path: str, method: str = "GET", body: Any = None, timeout: float = 60,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}/{path}",
            method=method,
            headers={"Authorization": f"token {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def test_https(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "home").mkdir()
    server = TlsServerProcess(tmp_path / "home", cert, key)
    server.start()
    try:
        cli = Cli(server, tmp_path)
        cli.url = f"https://127.0.0.1:{server.port}"
        message = cli.fails("list", code=3)
        assert f"Could not reach the server at {cli.url}: TLS certificate not trusted" in message
        assert "--insecure" in message
        # Trusted (the system's way: SSL_CERT_FILE), or not checked at all.
        assert cli.ok("list", env=cli.env(SSL_CERT_FILE=str(cert))).text.startswith("No scripts")
        assert cli.ok("list", "--insecure").text.startswith("No scripts")
    finally:
        server.stop()
