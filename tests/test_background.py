"""README, "Background runs": background runs — 202 at once, the result in the log, a queue
that is fair and bounded, a deadline of its own."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from jupyter_scripting.execution.runner import RunRequest

from .helpers import body_json, notebook_of, scripting_app, server_config

LOG_STATES = ("queued", "running", "finished", "failed")


@pytest.fixture
def jp_server_config():
    return server_config(
        sync_timeout=30.0,
        shutdown_grace=3.0,
        queue_poll_interval=0.5,
        max_background_runs=2,
    )


async def wait_finished(api, script_id: str, execution_id: str, timeout: float = 60) -> Any:
    """Poll the log content until the run has finished; returns that answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await api("scripting", "log", "script", script_id, "execution", execution_id)
        if answer.code != 202:
            return answer
        assert body_json(answer)["state"] in ("queued", "running")
        assert time.monotonic() < deadline, f"{execution_id} still {body_json(answer)}"
        await asyncio.sleep(0.1)


@pytest.mark.run_path
async def test_background_run_answers_202_and_logs_the_result(api, publish, jp_base_url):
    script_id = await publish("hello")
    answer = await api(
        "scripting",
        "script",
        script_id,
        "background",
        method="POST",
        body=json.dumps({"name": "John Smith"}),
    )
    assert answer.code == 202
    execution_id = body_json(answer)["executionId"]
    assert answer.headers["X-Execution-Id"] == execution_id
    assert answer.headers["Location"] == (
        f"{jp_base_url}scripting/log/script/{script_id}/execution/{execution_id}"
    )
    # Accepted means recorded: the log lists it at once.
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["executionId"] == execution_id
    assert entry["mode"] == "background"
    assert entry["state"] in LOG_STATES

    done = await wait_finished(api, script_id, execution_id)
    assert done.code == 200
    assert done.body == b"Hello John Smith!"
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["statusCode"] == 200
    assert entry["state"] == "finished"


async def test_background_takes_the_five_methods_and_the_request(api, publish):
    script_id = await publish("echo")
    ids = {}
    for method in ("POST", "GET", "PUT", "DELETE", "PATCH"):
        answer = await api(
            "scripting",
            "script",
            script_id,
            "background",
            method=method,
            body=None if method == "GET" else b"payload",
            params={"q": method},
            headers={"X-Trace": method},
        )
        assert answer.code == 202, method
        ids[method] = body_json(answer)["executionId"]
    for method, execution_id in ids.items():
        seen = body_json(await wait_finished(api, script_id, execution_id))
        assert seen["method"] == method
        assert seen["query"] == {"q": [method]}
        assert {k.lower(): v for k, v in seen["headers"].items()}["x-trace"] == method
        assert seen["path"].endswith(f"/scripting/script/{script_id}/background")


@pytest.mark.run_path
async def test_background_failures_are_logged(api, publish):
    raises = await publish("raises")
    execution_id = body_json(await api("scripting", "script", raises, "background"))["executionId"]
    failed = await wait_finished(api, raises, execution_id)
    assert failed.code == 200  # the log content is the error document
    assert body_json(failed)["reason"] == "script-error"
    (entry,) = body_json(await api("scripting", "log", "script", raises))["filteredLogs"]
    assert entry["statusCode"] == 502
    assert entry["state"] == "failed"


@pytest.mark.run_path
async def test_background_timeout_is_504_in_the_log(api, publish):
    script_id = await publish("sleeps")
    await api("scripting", "script", script_id, method="PATCH", body=json.dumps({"timeout": 2}))
    execution_id = body_json(await api("scripting", "script", script_id, "background"))[
        "executionId"
    ]
    done = await wait_finished(api, script_id, execution_id, timeout=30)
    assert body_json(done)["reason"] == "timeout"
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["statusCode"] == 504


async def test_background_unknown_or_malformed_script_is_404(api, raw_api):
    for script_id in ("00000000-0000-4000-8000-000000000000", "nope", "..%2F.."):
        answer = await raw_api(f"scripting/script/{script_id}/background", method="POST", body=b"")
        assert answer.code == 404
        assert set(body_json(answer)) == {"message", "reason", "executionId"}


async def test_background_queue_store_failure_is_500(api, publish, jp_serverapp):
    script_id = await publish("nothing")
    app = scripting_app(jp_serverapp)
    await app.store.close()  # the database is gone from under the service
    answer = await api("scripting", "script", script_id, "background", method="POST")
    assert answer.code == 500
    assert body_json(answer)["reason"] == "store-error"


async def test_queue_is_fair_between_tenants(api, publish, jp_serverapp):
    """Tenant A floods the queue; tenant B's single run starts before most of A's."""
    app = scripting_app(jp_serverapp)
    app.service.limits.max_background_runs = 1
    slow = notebook_of("import time; time.sleep(0.5)")
    a_script = await publish(slow)
    b_script = await app.service.create_script("tenant-b", "b", json.dumps(slow))
    a_runs = [
        body_json(await api("scripting", "script", a_script, "background"))["executionId"]
        for _ in range(5)
    ]
    b_run = await app.service.run_background(
        "tenant-b", b_script.id, RunRequest("POST", "/", {}, [], b"")
    )
    for execution_id in a_runs:
        await wait_finished(api, a_script, execution_id)
    for _ in range(200):
        b_record, _ = await app.store.get_execution("tenant-b", b_script.id, b_run)
        if b_record.state == "finished":
            break
        await asyncio.sleep(0.1)
    started = []
    for execution_id in a_runs:
        record, _ = await app.store.get_execution("default", a_script, execution_id)
        started.append(record.started_at)
    assert b_record.state == "finished"
    assert b_record.started_at is not None
    # B did not wait for A's queue to drain: at most two of A's runs started before it.
    assert sum(1 for s in started if s < b_record.started_at) <= 2


async def test_many_background_runs_all_complete_within_the_limit(api, publish, jp_serverapp):
    """Runs submitted at once all end in the log with 200; never more than the limit run
    at once (checked from the runs' own start and end times)."""
    app = scripting_app(jp_serverapp)
    limit = app.service.limits.max_background_runs
    script_id = await publish(notebook_of("print('done')"))
    count = 12
    answers = await asyncio.gather(
        *(api("scripting", "script", script_id, "background", method="POST") for _ in range(count))
    )
    assert [a.code for a in answers] == [202] * count
    ids = [body_json(a)["executionId"] for a in answers]
    for execution_id in ids:
        assert (await wait_finished(api, script_id, execution_id, timeout=120)).body == b"done"
    intervals = []
    for execution_id in ids:
        record, _ = await app.store.get_execution("default", script_id, execution_id)
        assert record.status_code == 200
        intervals.append((record.started_at, record.finished_at))
    peak = max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)
    assert 1 <= peak <= limit
