"""Header, body and output limits: 431, 413 and 502 "output-too-large" — as JSON answers,
never a dropped connection, and with the server's memory bounded.

pytest-jupyter initializes the server with ``new_httpserver=False`` and serves it through
its own ``http_server`` fixture, so ``jp_serverapp`` has no ``http_server`` of its own and
never runs ``_start_jupyter_server_extension``: the in-process tests widen the fixture's
Tornado limit with the extension's own helper, and a real ``python -m jupyter_server``
process proves the wiring (and measures the server's memory).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from tornado.simple_httpclient import HTTPStreamClosedError

from jupyter_scripting.app import ScriptingApp
from jupyter_scripting.http_limits import request_header_size, widen_header_limit

from .helpers import body_json, kernel_processes, notebook_of, processes_gone, scripting_app
from .server_process import TOKEN, ServerProcess

CAP = 1024 * 1024  # max_body_size and max_output_size in these tests
KB = 1024


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config.ScriptingApp.max_body_size = CAP
    jp_server_config.ScriptingApp.max_output_size = CAP
    return jp_server_config


def filler(total: int) -> dict[str, str]:
    """Headers adding up to about ``total`` bytes (``X-Filler-N: aaa…`` lines of ~1 KB)."""
    line = 1000
    return {
        f"X-Filler-{i}": "a" * (line - len(f"X-Filler-{i}: \r\n")) for i in range(total // line)
    }


def assert_error(answer: Any, status: int, reason: str) -> dict[str, Any]:
    assert answer.code == status, answer.body[:300]
    assert answer.headers["Content-Type"].startswith("application/json")
    error = body_json(answer)
    assert set(error) == {"message", "reason", "executionId"}
    assert error["reason"] == reason, error
    return error


# -- settings -------------------------------------------------------------------------------


def test_defaults_and_validation():
    app = ScriptingApp()
    assert app.max_header_size == 262144
    assert app.max_body_size == 10 * 1024 * 1024
    assert app.max_output_size == 10 * 1024 * 1024
    for name in ("max_header_size", "max_body_size", "max_output_size"):
        with pytest.raises(ValueError, match="positive"):
            setattr(app, name, 0)


def test_widen_header_limit_never_lowers():
    import logging

    log = logging.getLogger("test")
    params = SimpleNamespace(max_header_size=65536)
    server = SimpleNamespace(http_server=SimpleNamespace(conn_params=params))
    assert widen_header_limit(server, 256 * KB, log) == 512 * KB
    assert widen_header_limit(server, 16 * KB, log) == 512 * KB  # a larger limit stays
    assert widen_header_limit(SimpleNamespace(), 256 * KB, log) is None


# -- headers: 431 -------------------------------------------------------------------------------


async def test_headers_in_process_200_kb_accepted_300_kb_431(
    api, raw_api, jp_serverapp, http_server
):
    app = scripting_app(jp_serverapp)
    # The finding behind the real-server test below: no HTTP server of the app's own here.
    assert widen_header_limit(jp_serverapp, app.max_header_size, app.log) is None
    # Tornado's 64 KiB limit drops such a request without an answer...
    with pytest.raises(HTTPStreamClosedError):
        await api("scripting", "script", headers=filler(100 * KB))
    # ... until the limit is widened the way the extension widens the Jupyter server's.
    assert widen_header_limit(SimpleNamespace(http_server=http_server), 256 * KB, app.log) == (
        512 * KB
    )
    accepted = await api("scripting", "script", headers=filler(200 * KB))
    assert accepted.code == 200, accepted.body[:300]
    error = assert_error(
        await api("scripting", "script", headers=filler(300 * KB)), 431, "headers-too-large"
    )
    assert "262144" in error["message"] and "max_header_size" in error["message"]
    # Before authentication: a stranger with huge headers hears 431 too, not 401.
    stranger = await raw_api("scripting/script", headers={"Authorization": "", **filler(300 * KB)})
    assert_error(stranger, 431, "headers-too-large")


async def raw_exchange(port: int, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` as is (no body); the status and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # Connection: close
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (1, 431)])
async def test_header_size_is_the_head_as_sent(
    jp_serverapp, http_server, jp_http_port, jp_base_url, extra, status
):
    """The documented measure is exact: a head of max_header_size bytes passes, one more
    byte is 431."""
    app = scripting_app(jp_serverapp)
    widen_header_limit(SimpleNamespace(http_server=http_server), app.max_header_size, app.log)
    token = jp_serverapp.identity_provider.token
    start = (
        f"GET {jp_base_url}scripting/script HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: token {token}\r\nConnection: close\r\n"
    )
    fill = app.max_header_size + extra - len(start) - len("X-Fill: \r\n\r\n")
    head = f"{start}X-Fill: {'a' * fill}\r\n\r\n".encode("latin-1")
    assert len(head) == app.max_header_size + extra
    code, body = await raw_exchange(jp_http_port, head)
    assert code == status, body[:300]
    if status == 431:
        assert json.loads(body)["reason"] == "headers-too-large"


def test_request_header_size_counts_lines_and_crlfs():
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    headers = HTTPHeaders()
    headers.add("Host", "h")
    headers.add("X-A", "1")
    headers.add("X-A", "22")
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", "/p?q", "HTTP/1.1"), headers=headers
    )
    wire = "GET /p?q HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 22\r\n\r\n"
    assert request_header_size(request) == len(wire)


# -- bodies: 413 --------------------------------------------------------------------------------


async def test_run_body_over_the_limit_is_413_and_runs_nothing(api, publish):
    script_id = await publish(notebook_of("print(len(request.body))"))
    answer = await api(
        "scripting", "script", script_id, "run", method="POST", body=b"x" * (CAP + 1)
    )
    error = assert_error(answer, 413, "body-too-large")
    assert str(CAP + 1) in error["message"] and "max_body_size" in error["message"]
    log = body_json(await api("scripting", "log", "script", script_id))
    assert log["filteredLogs"] == []
    # At the limit the script runs.
    answer = await api("scripting", "script", script_id, "run", method="POST", body=b"x" * CAP)
    assert answer.code == 200 and answer.body == str(CAP).encode()


async def test_publish_body_over_the_limit_is_413(api, raw_api):
    assert_error(
        await api("scripting", "script", method="POST", body=b"x" * (CAP + 1)),
        413,
        "body-too-large",
    )
    # At the limit the body is read (and found not to be JSON).
    at_limit = await api("scripting", "script", method="POST", body=b"x" * CAP)
    assert_error(at_limit, 400, "bad-request")
    # Before authentication: nobody's oversized body reaches the service.
    stranger = await raw_api(
        "scripting/script", method="POST", headers={"Authorization": ""}, body=b"x" * (CAP + 1)
    )
    assert_error(stranger, 413, "body-too-large")


# -- output: 502 "output-too-large" ---------------------------------------------------------


async def run_capped(api, publish, *sources: str) -> tuple[dict[str, Any], str, float]:
    script_id = await publish(notebook_of(*sources))
    started = time.monotonic()
    answer = await api("scripting", "script", script_id, "run", method="POST")
    elapsed = time.monotonic() - started
    error = assert_error(answer, 502, "output-too-large")
    assert answer.headers["X-Execution-Id"] == error["executionId"]
    assert str(CAP) in error["message"] and "max_output_size" in error["message"]
    return error, script_id, elapsed


@pytest.mark.run_path
async def test_printing_past_the_cap_stops_the_run_at_once(api, publish, jp_serverapp):
    error, script_id, elapsed = await run_capped(
        api,
        publish,
        "import os; print(os.readlink('/proc/self/ns/pid'), os.getpid())",
        # 50 MB in a loop, then a long sleep: only a stop at the cap ends this early.
        "import time\nfor _ in range(50_000):\n    print('x' * 1000)\ntime.sleep(60)",
    )
    assert elapsed < 10  # sync_timeout is 30 s
    assert scripting_app(jp_serverapp).kernels.in_use_count == 0
    log = body_json(await api("scripting", "log", "script", script_id))
    assert log["filteredLogs"][0]["statusCode"] == 502
    content = await api("scripting", "log", "script", script_id, "execution", error["executionId"])
    assert body_json(content)["reason"] == "output-too-large"
    # The executed notebook keeps the outputs up to the cap, and says why they stop.
    notebook = await api(
        "scripting", "log", "script", script_id, "execution", error["executionId"], "notebook"
    )
    assert len(notebook.body) < CAP + 64 * KB
    cells = body_json(notebook)["cells"]
    namespace, kernel_pid = "".join(cells[0]["outputs"][0]["text"]).split()
    # Killed before the answer; its namespace may take a moment to be torn down on a
    # loaded machine.
    assert processes_gone(namespace, [int(kernel_pid)], timeout=2.0)
    texts = ["".join(o["text"]) for o in cells[1]["outputs"]]
    assert "max_output_size" in texts[-1] and "Output stopped here" in texts[-1]
    assert CAP - 64 * KB < sum(len(t) for t in texts[:-1]) <= CAP


@pytest.mark.run_path
async def test_rich_outputs_past_the_cap_are_stopped_by_the_server(api, publish):
    """Displays do not pass through stdout: the server's own count stops them."""
    _, _, elapsed = await run_capped(
        api,
        publish,
        "from IPython.display import HTML, display\nimport time\n"
        "for i in range(500):\n    display(HTML('<p>' + 'x' * 100_000 + '</p>'))\n"
        "time.sleep(60)",
    )
    assert elapsed < 10


@pytest.mark.run_path
async def test_response_write_past_the_cap(api, publish):
    await run_capped(api, publish, "for _ in range(100):\n    response.write('x' * 100_000)")
    # Catching the kernel's exception does not make the refused body acceptable.
    error, _, _ = await run_capped(
        api,
        publish,
        "try:\n    response.write(b'x' * (2 * 1024 * 1024))\nexcept Exception as e:\n"
        "    print(type(e).__name__)",
    )
    assert "response.write" in error["message"]


async def test_output_up_to_the_cap_is_answered(api, publish):
    written = await publish(notebook_of(f"response.write(b'x' * {CAP})"))
    answer = await api("scripting", "script", written, "run")
    assert answer.code == 200 and len(answer.body) == CAP
    printed = await publish(notebook_of(f"print('y' * {CAP - 1})"))  # + its newline: CAP
    answer = await api("scripting", "script", printed, "run")
    assert answer.code == 200 and answer.body == b"y" * (CAP - 1)


# -- a real server process: the header wiring, and the server's memory ------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``python -m jupyter_server`` with the extension and a small output cap."""
    process = ServerProcess(
        tmp_path_factory.mktemp("server"),
        f"--ScriptingApp.max_output_size={CAP}",
        # No warm kernels: the test counts the server's children and measures its memory.
        "--ScriptingApp.kernel_pool_size=0",
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def get_with_headers(port: int, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "GET", "/scripting/script", headers={"Authorization": f"token {TOKEN}", **headers}
        )
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_real_server_headers_200_kb_accepted_300_kb_431(server):
    port = server.port
    assert get_with_headers(port, filler(200 * KB))[0] == 200
    status, body = get_with_headers(port, filler(300 * KB))
    assert status == 431, body[:300]
    error = json.loads(body)
    assert set(error) == {"message", "reason", "executionId"}
    assert error["reason"] == "headers-too-large"
    # Past Tornado's widened limit (2 x 256 KiB) Tornado still drops the connection, as
    # the max_header_size help says.
    with pytest.raises((http.client.HTTPException, OSError)):
        get_with_headers(port, filler(600 * KB))


def publish_and_run(server: ServerProcess, *sources: str) -> tuple[int, dict[str, Any], float]:
    script_id = server.publish(notebook_of(*sources), name="capped")
    started = time.monotonic()
    status, body = server.call(f"scripting/script/{script_id}/run", "POST")
    return status, json.loads(body) if status != 200 else {}, time.monotonic() - started


@pytest.mark.run_path
def test_real_server_output_cap_keeps_memory_bounded(server):
    server_process = psutil.Process(server.pid)
    # Warm up (imports, first kernel, store), then measure.
    for _ in range(2):
        assert publish_and_run(server, "print('warm' * 1000)")[0] == 200
    before = server_process.memory_info().rss
    scripts = {
        "print": "import time\nfor _ in range(50_000):\n    print('x' * 1000)\ntime.sleep(60)",
        "display": "from IPython.display import HTML, display\nimport time\n"
        "for i in range(500):\n    display(HTML('<p>' + 'x' * 100_000 + '</p>'))\n"
        "time.sleep(60)",
        "response.write": "for _ in range(500):\n    response.write('x' * 100_000)",
    }
    figures = {}
    for name, source in scripts.items():
        status, error, elapsed = publish_and_run(server, source)
        assert status == 502, (name, error)
        assert error["reason"] == "output-too-large", (name, error)
        assert elapsed < 10, (name, elapsed)
        # The kernel was killed before the answer was sent.
        assert kernel_processes(server_process) == [], name
        figures[name] = elapsed
    grown = server_process.memory_info().rss - before
    print(
        f"\nreal server: RSS {before / 2**20:.1f} MiB, grown by {grown / 2**20:.1f} MiB after "
        f"3 x 50 MB of output under a {CAP} byte cap; elapsed "
        + ", ".join(f"{k} {v:.2f} s" for k, v in figures.items())
    )
    assert grown < 25 * 2**20  # each script produced 50 MB; the server kept about 1 MB
