"""README, "3. Call it": synchronous runs — the script's answer, its failures, its deadline."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import pytest

from jupyter_scripting.execution import sandbox

from .helpers import body_json, notebook_of, processes_gone, reported_kernel, scripting_app

SANDBOX = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


def assert_sandboxed(answer) -> None:
    for name, value in SANDBOX.items():
        assert answer.headers[name] == value, name


@pytest.mark.run_path
async def test_vendor_example(api, publish):
    script_id = await publish("hello")
    answer = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body=json.dumps({"name": "John Smith"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.code == 200
    assert answer.body == b"Hello John Smith!"
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert len(answer.headers["X-Execution-Id"]) == 36
    assert_sandboxed(answer)


@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE", "PATCH"])
async def test_each_method_hands_over_the_whole_request(api, publish, method):
    script_id = await publish("echo")
    body = None if method == "GET" else b"plain body \xc3\xa9"
    answer = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method=method,
        body=body,
        params={"a": "1", "token_like": "ok"},
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Trace": "t-1"},
    )
    assert answer.code == 200, answer.body
    seen = body_json(answer)
    assert seen["method"] == method
    assert seen["path"].endswith(f"/scripting/script/{script_id}/run")
    assert seen["query"] == {"a": ["1"], "token_like": ["ok"]}
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-trace"] == "t-1"
    assert seen["content_type"] == "text/plain"
    assert base64.b64decode(seen["body_b64"]) == (body or b"")
    if body:
        assert seen["text"] == "plain body é"
    # The hand-over works without importing this package in the kernel.
    assert seen["handover_imported_package"] is False


async def test_binary_body_round_trip(api, publish):
    script_id = await publish("binary_echo")
    payload = bytes(range(256)) * 64
    answer = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body=payload,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.code == 200
    assert answer.body == payload
    assert answer.headers["Content-Type"] == "application/octet-stream"


async def test_custom_status_headers_and_content_type(api, publish):
    script_id = await publish("custom_answer")
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 201
    assert answer.body == b"<ok/>"
    assert answer.headers["Content-Type"] == "application/xml"
    assert answer.headers["X-Custom"] == "yes"
    assert answer.headers["Cache-Control"] == "no-store"
    # Not on the allow-list, or malformed: dropped.
    assert not any("stolen" in c for c in answer.headers.get_list("Set-Cookie"))
    assert "X-Newline" not in answer.headers
    assert not any("Injected" in name for name in answer.headers)
    assert_sandboxed(answer)


@pytest.mark.parametrize(
    ("accept", "content_type", "body"),
    [
        ("text/html", "text/html; charset=utf-8", b"<b>report</b>"),
        (
            "image/png",
            "image/png",
            base64.b64decode(
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
            ),
        ),
        ("text/plain", "text/plain; charset=utf-8", b"Report()"),
        ("application/json", "application/json", b'{"report": true}'),
        ("text/html;q=0.5, image/*", "image/png", None),
        ("*/*", "application/json", b'{"report": true}'),
        (None, "application/json", b'{"report": true}'),
        ("application/x-unknown", "application/json", b'{"report": true}'),
    ],
)
async def test_accept_negotiates_the_last_rich_output(api, publish, accept, content_type, body):
    script_id = await publish("rich")
    headers = {"Accept": accept} if accept else {}
    answer = await api("scripting", "script", script_id, "run", headers=headers)
    assert answer.code == 200
    assert answer.headers["Content-Type"] == content_type
    if body is not None:
        assert answer.body == body


async def test_stdout_wins_over_rich_output_and_response_wins_over_stdout(api, publish):
    printed = await publish(notebook_of("print('one')\nprint('two')", "42"))
    answer = await api("scripting", "script", printed, "run")
    assert answer.body == b"one\ntwo" and answer.headers["Content-Type"].startswith("text/plain")
    written = await publish(notebook_of("print('ignored')", "response.write('written')", "42"))
    assert (await api("scripting", "script", written, "run")).body == b"written"


async def test_nothing_answered_is_204(api, publish):
    script_id = await publish("nothing")
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 204
    assert answer.body == b""
    assert "X-Execution-Id" in answer.headers


@pytest.mark.run_path
async def test_exception_is_502_with_json_error_and_no_traceback(api, publish):
    script_id = await publish("raises")
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 502
    error = body_json(answer)
    assert set(error) == {"message", "reason", "executionId"}
    assert error["message"] == "The script raised ValueError: bad input"
    assert error["reason"] == "script-error"
    assert error["executionId"] == answer.headers["X-Execution-Id"]
    assert "Traceback" not in answer.body.decode()
    # ...the traceback is in the log.
    log = await api("scripting", "log", "script", script_id, "execution", error["executionId"])
    assert log.code == 200
    document = body_json(log)
    assert "ValueError" in document["traceback"] and "bad input" in document["traceback"]


@pytest.mark.run_path
async def test_kernel_exit_is_502(api, publish):
    script_id = await publish("exits")
    answer = await api("scripting", "script", script_id, "run")
    assert answer.code == 502
    assert body_json(answer)["reason"] == "kernel-died"


async def test_invalid_status_from_script_is_502(api, publish):
    for status in ("99", "600", "'abc'"):
        script_id = await publish(notebook_of(f"response.status = {status}"))
        answer = await api("scripting", "script", script_id, "run")
        assert answer.code == 502, status
        assert "200 to 599" in body_json(answer)["message"]


@pytest.mark.run_path
async def test_a_deadline_during_the_kernels_start_leaves_no_kernel(api, publish, jp_serverapp):
    """A deadline that passes while the kernel is still starting (the smallest positive
    timeout: found by schemathesis) is a 504, and the half-started kernel is not left
    behind: its start is finished, then it is killed."""
    app = scripting_app(jp_serverapp)
    script_id = await publish("hello")
    body = json.dumps({"timeout": 5e-324})
    await api("scripting", "script", script_id, method="PATCH", body=body)
    for _ in range(3):
        answer = await api("scripting", "script", script_id, "run", method="POST")
        assert answer.code == 504
        assert body_json(answer)["reason"] == "timeout"
    for _ in range(100):  # the pool's own kernels aside, nothing is left running
        if app.kernels.in_use_count == 0:
            break
        await asyncio.sleep(0.05)
    assert app.kernels.in_use_count == 0


async def test_timeout_is_504_and_kills_the_kernel_and_its_children(api, publish):
    # The deadline counts from the request, kernel start included: a first run brings
    # the fork server up, so that on a loaded machine the script still prints its pids
    # well inside the deadline.
    warm = await api("scripting", "script", await publish("nothing"), "run", method="POST")
    assert warm.code == 204
    script_id = await publish("sleeps")
    patched = await api(
        "scripting", "script", script_id, method="PATCH", body=json.dumps({"timeout": 5})
    )
    assert patched.code == 200
    started = time.monotonic()
    answer = await api("scripting", "script", script_id, "run", method="POST")
    elapsed = time.monotonic() - started
    assert answer.code == 504
    error = body_json(answer)
    assert error["reason"] == "timeout" and "5 s" in error["message"]
    assert elapsed < 20
    # The executed notebook records the kernel's and its child's pids: both are gone.
    notebook = await api(
        "scripting", "log", "script", script_id, "execution", error["executionId"], "notebook"
    )
    printed = "".join(body_json(notebook)["cells"][0]["outputs"][0]["text"]).split()
    namespace, kernel_pid, child_pid = printed[0], int(printed[1]), int(printed[2])
    assert processes_gone(namespace, [kernel_pid, child_pid])
    log = body_json(await api("scripting", "log", "script", script_id))
    assert log["filteredLogs"][0]["statusCode"] == 504


@pytest.mark.run_path
async def test_service_timeout_caps_a_larger_script_timeout(api, publish, jp_serverapp):
    app = scripting_app(jp_serverapp)
    assert app.service.limits.sync_timeout == 30.0
    script_id = await publish("nothing")
    await api("scripting", "script", script_id, method="PATCH", body=json.dumps({"timeout": 999}))
    script = await app.service.get_script("default", script_id)
    assert app.service.effective_timeout(script.timeout, app.service.limits.sync_timeout) == 30.0


@pytest.mark.run_path
async def test_kernel_never_sees_credentials(api, publish, jp_serverapp, monkeypatch):
    token = jp_serverapp.identity_provider.token
    assert token
    script_id = await publish("environment")
    answer = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        params={"token": token, "keep": "1"},
        headers={
            "Cookie": "session=abc; _xsrf=def",
            "X-Forwarded-Token": token,
            "X-XSRFToken": "def",
        },
    )
    assert answer.code == 200, answer.body
    seen = body_json(answer)
    everything = json.dumps(seen)
    assert token not in everything
    headers = {k.lower() for k in seen["headers"]}
    assert not headers & {"authorization", "cookie", "x-xsrftoken", "x-forwarded-token"}
    assert seen["query"] == {"keep": ["1"]}
    assert not any("TOKEN" in k or "PASSWORD" in k for k in seen["environ"])
    # Its own fresh working directory, holding nothing of the server's.
    assert seen["files"] == []
    policy = scripting_app(jp_serverapp).kernels.sandbox
    if policy is not None and policy.active:
        assert seen["cwd"] == sandbox.HOME  # on the run's own tmpfs, gone with it
        return
    assert os.path.basename(seen["cwd"]).startswith("jupyter-scripting-")
    for _ in range(50):  # removed right after the answer, with the kernel
        if not Path(seen["cwd"]).exists():
            break
        await asyncio.sleep(0.1)
    assert not Path(seen["cwd"]).exists()


@pytest.mark.run_path
async def test_credentials_in_environment_are_scrubbed(api, publish, monkeypatch, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-secret")
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "pw-secret")
    monkeypatch.setenv("INNOCENT_LOOKING", f"holds {token} inside")
    monkeypatch.setenv("SCRIPTING_VISIBLE", "yes")
    script_id = await publish("environment")
    seen = json.dumps(body_json(await api("scripting", "script", script_id, "run")))
    for secret in ("hub-secret", "pw-secret", token):
        assert secret not in seen
    assert '"SCRIPTING_VISIBLE": "yes"' in seen


@pytest.mark.run_path
async def test_every_run_gets_a_fresh_kernel(api, publish):
    script_id = await publish("leave_traces")
    first = body_json(await api("scripting", "script", script_id, "run"))
    second = body_json(await api("scripting", "script", script_id, "run"))
    assert reported_kernel(first) != reported_kernel(second)
    assert not (second["had_global"] or second["had_file"] or second["had_env"])


@pytest.mark.run_path
async def test_run_kernels_are_not_the_users_kernels(api, publish, jp_serverapp):
    script_id = await publish("nothing")
    await api("scripting", "script", script_id, "run")
    assert (await api("api", "kernels")).body == b"[]"
    assert jp_serverapp.kernel_manager.list_kernel_ids() == []


@pytest.mark.run_path
async def test_unknown_kernelspec_is_500(api, publish):
    nb = notebook_of("1")
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "x"}
    script_id = await publish(nb)
    answer = await api("scripting", "script", script_id, "run")
    assert answer.code == 500
    error = body_json(answer)
    assert error["reason"] == "not-started" and "no-such-kernel" in error["message"]


async def test_too_many_runs_of_one_tenant_is_429(api, publish, jp_serverapp):
    app = scripting_app(jp_serverapp)
    app.service.limits.max_sync_runs_per_tenant = 1
    slow = await publish(notebook_of("import time; time.sleep(3)"))

    async def second_run():
        await asyncio.sleep(0.5)  # the first run holds its slot from the start
        return await api("scripting", "script", slow, "run")

    first, second = await asyncio.gather(api("scripting", "script", slow, "run"), second_run())
    assert first.code == 204
    assert second.code == 429
    assert second.headers["Retry-After"] == "1"
    error = body_json(second)
    assert error["reason"] == "too-many-runs" and "1 synchronous run" in error["message"]
    # The slot came back.
    assert (await api("scripting", "script", slow, "run")).code == 204


PLANT = """
import os
from IPython.paths import get_ipython_dir
startup = os.path.join(get_ipython_dir(), "profile_default", "startup")
seen = {"dir": get_ipython_dir(), "planted": "PLANTED" in globals(),
        "session": get_ipython().history_manager.session_number}
os.makedirs(startup, exist_ok=True)
with open(os.path.join(startup, "00-plant.py"), "w") as f:
    f.write("PLANTED = True\\n")
response.json(seen)
"""


@pytest.mark.run_path
async def test_runs_share_no_ipython_profile_or_history(api, publish):
    script_id = await publish(notebook_of(PLANT))
    first = body_json(await api("scripting", "script", script_id, "run"))
    second = body_json(await api("scripting", "script", script_id, "run"))
    assert first["dir"] != second["dir"]
    assert not second["planted"]  # the first run's startup file never ran
    # A history of its own, not shared: none at all for a kernel forked from the zygote
    # (session 0: single-use kernels keep none), a fresh one for a spawned kernel (1).
    assert first["session"] == second["session"] in (0, 1)
