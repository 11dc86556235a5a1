"""A store that cannot be used, met by a whole server process: a driver that is
not installed stops the server at once with the command that installs it; a database that
does not answer gets 500 JSON naming the store on every /scripting route (never an HTML
404), the server keeps trying and serves once the store opens, and SIGTERM stops it.
(Every other unusable URL is refused by the same check: tests/test_store_failure.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import load_notebook
from .server_process import ServerProcess, free_port

ID = "00000000-0000-4000-8000-000000000000"
ROUTES = [
    "scripting/script",
    f"scripting/script/{ID}",
    f"scripting/script/{ID}/run",
    f"scripting/log/script/{ID}",
    f"scripting/log/script/{ID}/execution/{ID}",
]


def refused_start(server: ServerProcess, timeout: float = 60) -> tuple[int, str]:
    """(exit status, log) of a server expected to refuse to start."""
    process = server.launch()
    try:
        status = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.stop()
        pytest.fail("the server started although its store cannot be used:\n" + server.log())
    return status, server.log()


def test_without_psycopg_the_server_names_the_postgresql_extra(tmp_path: Path) -> None:
    # A machine without psycopg: its import fails exactly as when it is not installed.
    hidden = tmp_path / "no-psycopg"
    hidden.mkdir()
    (hidden / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    server = ServerProcess(
        tmp_path,
        "--ScriptingApp.database_url=postgresql+psycopg://postgres@127.0.0.1/test",
        env={"PYTHONPATH": str(hidden)},
    )
    status, log = refused_start(server)
    assert status == 1, log
    [line] = [line for line in log.splitlines() if "cannot start" in line]
    assert line.endswith("Install it with: pip install 'jupyter_scripting[postgresql]'"), line


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose PostgreSQL does not answer (nothing listens on its port)."""
    home = tmp_path_factory.mktemp("unreachable")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    server = ServerProcess(
        home,
        f"--ScriptingApp.database_url={url}",
        "--ScriptingApp.log_retention_interval=0.5",
        "--ScriptingApp.queue_poll_interval=0.5",
    )
    server.start(expect=500)
    yield server
    server.stop()


@pytest.mark.parametrize("path", ROUTES)
def test_an_unreachable_store_is_500_json_naming_it(unreachable: ServerProcess, path: str) -> None:
    status, body = unreachable.call(path)
    assert status == 500
    error = json.loads(body)
    assert error["reason"] == "store-error"
    assert error["message"].startswith("The script store could not be opened")
    assert "Traceback" not in body.decode()


def test_unknown_scripting_routes_stay_json(unreachable: ServerProcess) -> None:
    status, body = unreachable.call("scripting/no/such/route")
    assert status == 404
    assert json.loads(body)["reason"] == "not-found"


def test_sigterm_stops_a_server_whose_store_never_opened(unreachable: ServerProcess) -> None:
    time.sleep(1.5)  # three retention intervals: none may run against the unopened store
    unreachable.signal(signal.SIGTERM)
    assert unreachable.wait(30) == 0
    log = unreachable.log()
    assert "Log retention" not in log
    assert "AttributeError" not in log
    assert "did not stop cleanly" not in log


def test_the_server_serves_once_the_store_can_be_opened(tmp_path: Path) -> None:
    # The store's directory cannot be made (a file is in its way) until the file goes.
    blocker = tmp_path / "not-yet"
    blocker.write_text("a file where the store's directory should be")
    server = ServerProcess(
        tmp_path,
        f"--ScriptingApp.database_url=sqlite:///{blocker}/store.sqlite",
        "--ScriptingApp.queue_poll_interval=0.5",
    )
    server.start(expect=500)
    try:
        blocker.unlink()
        script_id = server.publish(load_notebook("hello"))
        status, body = server.call(f"scripting/script/{script_id}/run", "POST", {"name": "Ada"})
        assert (status, body) == (200, b"Hello Ada!")
        assert "The script store is open" in server.log()
    finally:
        server.stop()
