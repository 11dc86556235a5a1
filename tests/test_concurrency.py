"""The 429 of README's "Limits": at most N synchronous runs of a tenant at once, and every way a run
can end gives its slot back — success, script error, timeout, dead kernel, a caller
that disconnects (whose kernel is then stopped)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psutil
import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from .helpers import body_json, kernel_processes, notebook_of, scripting_app, server_config


@pytest.fixture
def jp_server_config():
    return server_config(sync_timeout=30.0, shutdown_grace=3.0, max_sync_runs_per_tenant=10)


async def test_thirty_simultaneous_runs_against_a_limit_of_ten(
    publish, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header
):
    script_id = await publish(notebook_of("import time; time.sleep(3)", "print('ok')"))
    # The default client queues past 10 requests: use one that sends all 30 at once.
    client = AsyncHTTPClient(force_instance=True, max_clients=64)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}scripting/script/{script_id}/run"
    try:
        started = time.monotonic()
        answers = await asyncio.gather(
            *(
                client.fetch(url, headers=jp_auth_header, raise_error=False, request_timeout=120)
                for _ in range(30)
            )
        )
        elapsed = time.monotonic() - started
    finally:
        client.close()
    codes = sorted(a.code for a in answers)
    assert codes == [200] * 10 + [429] * 20, codes
    for answer in answers:
        if answer.code == 429:
            assert answer.headers["Retry-After"]
            assert body_json(answer)["reason"] == "too-many-runs"
        else:
            assert answer.body == b"ok"
    print(f"30 runs, limit 10: 10 x 200, 20 x 429 in {elapsed:.1f} s")
    assert scripting_app(jp_serverapp).service.sync_runs_in_flight == 0


@pytest.mark.run_path
async def test_every_exit_path_gives_the_slot_back(api, publish, jp_serverapp):
    app = scripting_app(jp_serverapp)
    app.service.limits.max_sync_runs_per_tenant = 1
    scripts = {
        "success": (await publish("nothing"), 204),
        "script error": (await publish("raises"), 502),
        "dead kernel": (await publish("exits"), 502),
        "no kernel": (await publish(_unknown_kernel()), 500),
    }
    timeout_script = await publish(notebook_of("import time; time.sleep(30)"))
    await api("scripting", "script", timeout_script, method="PATCH", body='{"timeout": 2}')
    scripts["timeout"] = (timeout_script, 504)
    for label, (script_id, status) in scripts.items():
        answer = await api("scripting", "script", script_id, "run")
        assert answer.code == status, label
        assert app.service.sync_runs_in_flight == 0, label
    # With the only slot back each time, a run still gets through.
    assert (await api("scripting", "script", scripts["success"][0], "run")).code == 204


def _unknown_kernel() -> dict[str, Any]:
    nb = notebook_of("1")
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "none"}
    return nb


@pytest.mark.run_path
async def test_caller_disconnect_stops_the_kernel_and_frees_the_slot(api, publish, jp_serverapp):
    app = scripting_app(jp_serverapp)
    app.service.limits.max_sync_runs_per_tenant = 1
    script_id = await publish("sleeps")
    with pytest.raises(HTTPClientError) as gone:
        await api("scripting", "script", script_id, "run", request_timeout=4, raise_error=True)
    assert gone.value.code == 599  # the client gave up and closed the connection
    deadline = time.monotonic() + 20
    while app.service.sync_runs_in_flight:
        assert time.monotonic() < deadline, "the slot was not given back"
        await asyncio.sleep(0.1)
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["state"] == "failed"
    assert entry["statusCode"] == 499
    content = await api("scripting", "log", "script", script_id, "execution", entry["executionId"])
    assert body_json(content)["reason"] == "client-disconnected"
    # The kernel went with it (its pid is in the file the script wrote... which was in
    # its removed working directory, so look for any leftover kernel of this server).
    server = psutil.Process()
    while app.kernels.starting_count:  # the pool's refill (slow when the machine is busy)
        assert time.monotonic() < deadline, "the pool was not refilled"
        await asyncio.sleep(0.1)
    pooled = set(app.kernels.pooled_pids())  # warm, unused kernels waiting for the next run
    for pid in list(pooled):  # and what they are made of (a sandbox's init and kernel)
        pooled |= {child.pid for child in psutil.Process(pid).children(recursive=True)}
    kernels = [p for p in kernel_processes(server) if p.pid not in pooled]
    assert kernels == []
    nothing = await publish("nothing")
    assert (await api("scripting", "script", nothing, "run")).code == 204


async def test_another_tenant_is_not_affected(api, publish, jp_serverapp):
    app = scripting_app(jp_serverapp)
    app.service.limits.max_sync_runs_per_tenant = 1
    slow = await publish(notebook_of("import time; time.sleep(3)"))
    other = await app.service.create_script("tenant-b", "b", json.dumps(notebook_of("1")))

    from jupyter_scripting.execution.runner import RunRequest

    async def other_tenant_run() -> int:
        await asyncio.sleep(0.5)
        run = await app.service.run_sync("tenant-b", other.id, RunRequest("GET", "/", {}, [], b""))
        return run.outcome.status

    first, second = await asyncio.gather(
        api("scripting", "script", slow, "run"), other_tenant_run()
    )
    assert first.code == 204
    assert second == 200
