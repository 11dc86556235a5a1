"""Helpers the tests share (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nbformat
import psutil
from tornado.httpclient import HTTPResponse
from traitlets.config import Config

POSTGRES_URL_ENV = "JUPYTER_SCRIPTING_TEST_POSTGRES_URL"
#: Where the PostgreSQL store tests look when the variable is not set: a local server
#: with trust authentication and a database "test" (as on CI's machines).
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_T = TypeVar("_T")

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
NOTEBOOKS = Path(__file__).parent / "notebooks"


def load_notebook(name: str) -> dict[str, Any]:
    """A test notebook from tests/notebooks as a plain dict."""
    with open(NOTEBOOKS / f"{name}.ipynb", encoding="utf-8") as f:
        return json.load(f)


def notebook_of(*sources: str) -> dict[str, Any]:
    """A python3 notebook with one code cell per source."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in sources],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    return json.loads(nbformat.writes(nb))


def body_json(response: HTTPResponse) -> Any:
    """The JSON body of an answer."""
    return json.loads(response.body)


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat may store it as a list of lines)."""
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else str(text)


def server_config(*, authenticated_only: bool = True, **scripting: Any) -> Config:
    """Server config with the extension on (terminals off) and ``ScriptingApp`` settings."""
    server: dict[str, Any] = {
        "jpserver_extensions": {"jupyter_scripting": True, "jupyter_server_terminals": False}
    }
    if authenticated_only:
        server["allow_unauthenticated_access"] = False
    pool_size = os.environ.get("JUPYTER_SCRIPTING_TEST_POOL_SIZE")
    if pool_size is not None:
        # `make test` runs the run-path tests a second time with the warm pool off.
        scripting.setdefault("kernel_pool_size", int(pool_size))
    if os.environ.get("JUPYTER_SCRIPTING_TEST_FORK") == "0":
        # ... and with every kernel spawned rather than forked from the zygote.
        scripting.setdefault("fork_kernelspecs", [])
    return Config({"ServerApp": server, "ScriptingApp": scripting})


def scripting_app(jp_serverapp: Any) -> Any:
    """The ScriptingApp running in a pytest-jupyter server."""
    return next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_scripting"]))


def kernel_processes(server: psutil.Process) -> list[psutil.Process]:
    """The kernels under a server process: spawned ones, and those forked from its kernel
    zygote (the fork server) — not the zygote itself, which stays for the next fork."""
    kernels = []
    for process in server.children(recursive=True):
        try:
            zygote = process.ppid() == server.pid and any(
                arg.endswith("zygote.py") for arg in process.cmdline()
            )
        except psutil.NoSuchProcess:
            continue
        if not zygote:
            kernels.append(process)
    return kernels


def processes_gone(namespace: str, pids: list[int], timeout: float = 5.0) -> bool:
    """Whether the processes a run reported (its PID ``namespace``, their ``pids`` in it)
    are all gone within ``timeout`` s. In a sandbox (a namespace of its own) that is:
    nothing left in the namespace; without one, none of those pids."""
    import time

    def alive() -> bool:
        if namespace != os.readlink("/proc/self/ns/pid"):
            for process in psutil.process_iter(["status"]):
                try:
                    same = os.readlink(f"/proc/{process.pid}/ns/pid") == namespace
                except OSError:
                    continue
                if same and process.info["status"] != psutil.STATUS_ZOMBIE:
                    return True
            return False
        return any(
            psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            for pid in pids
        )

    deadline = time.monotonic() + timeout
    while alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def reported_kernel(answer: dict[str, Any]) -> str:
    """The kernel a leave_traces/environment run reports: its runtime directory (unique
    per kernel, and the same path in and out of a sandbox; pids are not: a sandboxed
    kernel is always PID 2 of its namespace)."""
    return str(answer["kernel"])


@functools.cache
def postgres_url() -> tuple[str | None, str]:
    """The PostgreSQL of the store tests, and what to say about it: the URL in
    JUPYTER_SCRIPTING_TEST_POSTGRES_URL, else the default one if a server answers there,
    else None (those tests are skipped)."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url, f"from {POSTGRES_URL_ENV}"
    import psycopg

    try:
        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
        ).close()
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None, (
            f"{POSTGRES_URL_ENV} is not set and {DEFAULT_POSTGRES_URL} does not answer "
            f"({first}): the PostgreSQL store tests are skipped"
        )
    return DEFAULT_POSTGRES_URL, f"found ({POSTGRES_URL_ENV} is not set)"


@contextlib.contextmanager
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(URL, schema): a fresh schema on the tests' PostgreSQL server, dropped afterwards
    (the test is skipped, saying why, when there is no such server)."""
    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    url, why = postgres_url()
    if url is None:
        pytest.skip(why)
    schema = f"scripting_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL at {shown} ({why}) failed: {exc}")
    try:
        yield url, schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def poll(check: Callable[[], _T], timeout: float, interval: float = 0.05) -> _T:
    """``check()`` once it is true, or its last (false) value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def wait_for(check: Callable[[], _T], timeout: float, what: str, interval: float = 0.05) -> _T:
    """``check()`` once it is true; fails the test after ``timeout`` seconds."""
    value = poll(check, timeout, interval)
    assert value, f"timed out waiting for {what}"
    return value
