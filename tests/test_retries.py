"""Retries of background runs (README, "Retries"): the setting's checks, the store's
next attempt (queued with the failed one's end, not taken before its back-off, linked to
the first), and a flaky script retried end to end until it answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_scripting.errors import BadRequest
from jupyter_scripting.retries import RetrySpec, parse_retries
from jupyter_scripting.store import ExecutionResult, Store
from jupyter_scripting.webhooks import WebhookSpec

from . import test_store
from .helpers import body_json, notebook_of, server_config
from .test_background import wait_finished
from .test_store import Backend, Clock, notebook

backend = test_store.backend
UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


# -- the setting -------------------------------------------------------------------------------
def test_a_retries_setting_has_defaults_and_round_trips() -> None:
    spec = parse_retries({"max": 2})
    assert spec == RetrySpec(2, (500, 502, 504), 30.0)
    assert RetrySpec.from_json(spec.to_json()) == spec
    assert parse_retries({"max": 3, "on": [504, 502, 502], "backoff": 0}) == RetrySpec(
        3, (502, 504), 0.0
    )
    assert parse_retries(None) is None and RetrySpec.from_json(None) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (3, "must be"),
        ({}, '"max"'),
        ({"max": 0}, '"max"'),
        ({"max": 11}, '"max"'),
        ({"max": True}, '"max"'),
        ({"max": 1, "on": []}, '"on"'),
        ({"max": 1, "on": [200]}, '"on"'),
        ({"max": 1, "on": ["502"]}, '"on"'),
        ({"max": 1, "backoff": -1}, '"backoff"'),
        ({"max": 1, "backoff": 86401}, '"backoff"'),
        ({"max": 1, "colour": "red"}, "Unknown retries fields: colour"),
    ],
)
def test_bad_retries_are_refused_with_what_is_wrong(value: object, problem: str) -> None:
    with pytest.raises(BadRequest, match=problem):
        parse_retries(value)


def test_the_back_off_doubles_and_the_last_attempt_is_not_retried() -> None:
    spec = RetrySpec(2, (502,), 10.0)
    assert spec.next_attempt(1, 502, T0) == T0 + dt.timedelta(seconds=10)
    assert spec.next_attempt(2, 502, T0) == T0 + dt.timedelta(seconds=20)
    assert spec.next_attempt(3, 502, T0) is None  # 1 + max attempts in all
    assert spec.next_attempt(1, 504, T0) is None  # not a status it retries
    assert spec.next_attempt(1, None, T0) is None


# -- the store -------------------------------------------------------------------------------
def _result(status: int) -> ExecutionResult:
    return ExecutionResult(
        state="finished" if status < 500 else "failed",
        status_code=status,
        reason=None if status < 500 else "script-error",
        content_type="text/plain",
        content=b"ok",
        notebook=None,
        started_at=T0,
        finished_at=T0,
        duration_ms=5.0,
    )


async def test_a_failed_attempt_queues_the_next_after_its_back_off(backend: Backend) -> None:
    clock = Clock(T0)
    store = backend.store(clock=clock)
    await store.start()
    try:
        script = await store.create_script("acme", "flaky", notebook("flaky"))
        spec = RetrySpec(2, (502,), 10.0)
        hook = WebhookSpec("https://hooks.example.com/a", ("finished", "failed"), False)
        updated = await store.update_script("acme", script.id, retries=spec, webhook=hook)
        assert updated.retries == spec.to_json()
        first = str(uuid.uuid4())
        await store.log_run(
            execution_id=first,
            tenant="acme",
            script_id=script.id,
            mode="background",
            method="POST",
            state="queued",
            request=b'{"body": "kept"}',
        )

        async def claim_and_fail(status: int) -> str:
            claimed = await store.claim_background_run("node-a", 4)
            assert claimed is not None and claimed.request == b'{"body": "kept"}'
            await store.finish_execution(claimed.execution.id, _result(status))
            return claimed.execution.id

        assert await claim_and_fail(502) == first
        # The next attempt is queued, not due before its back-off.
        assert await store.claim_background_run("node-a", 4) is None
        clock.now = T0 + dt.timedelta(seconds=10)
        second = await claim_and_fail(502)
        clock.now = T0 + dt.timedelta(seconds=29)
        assert await store.claim_background_run("node-a", 4) is None  # doubled: 20 s
        clock.now = T0 + dt.timedelta(seconds=30)
        third = await claim_and_fail(502)
        clock.now = T0 + dt.timedelta(days=1)
        assert await store.claim_background_run("node-a", 4) is None  # no retry left

        entries, _ = await store.list_executions("acme", script.id)
        by_id = {e.id: e for e in entries}
        assert [by_id[i].attempt for i in (first, second, third)] == [1, 2, 3]
        assert [by_id[i].retry_of for i in (first, second, third)] == [None, first, first]
        assert [by_id[i].retried_by for i in (first, second, third)] == [second, third, None]
        # Only the last attempt's end is POSTed.
        for retried in (first, second):
            assert await store.list_deliveries("acme", script.id, retried) == []
        assert len(await store.list_deliveries("acme", script.id, third)) == 1

        # A status it does not retry, and a synchronous run, end there.
        await store.update_script("acme", script.id, retries=RetrySpec(2, (504,), 0.0))
        other = str(uuid.uuid4())
        await store.log_run(
            execution_id=other,
            tenant="acme",
            script_id=script.id,
            mode="background",
            method="POST",
            state="queued",
        )
        assert await claim_and_fail_any(store, 502) == other
        sync = str(uuid.uuid4())
        await store.log_run(
            execution_id=sync, tenant="acme", script_id=script.id, mode="sync", method="GET"
        )
        await store.finish_execution(sync, _result(504))
        assert await store.claim_background_run("node-a", 4) is None
    finally:
        await store.close()


async def claim_and_fail_any(store: Store, status: int) -> str:
    claimed = await store.claim_background_run("node-a", 4)
    assert claimed is not None
    await store.finish_execution(claimed.execution.id, _result(status))
    return claimed.execution.id


# -- end to end ------------------------------------------------------------------------------
class Counter(http.server.BaseHTTPRequestHandler):
    """Answers each GET with how many it has answered (the flaky script's memory)."""

    count = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with Counter.lock:
            Counter.count += 1
            body = str(Counter.count).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counter() -> Iterator[str]:
    Counter.count = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def jp_server_config() -> Any:
    return server_config(sync_timeout=30.0, queue_poll_interval=0.2)


FLAKY = notebook_of(
    "import urllib.request\n"
    "seen = int(urllib.request.urlopen(request.json()['counter'], timeout=10).read())\n"
    "if seen < 3:\n"
    "    raise RuntimeError(f'flaky: call {seen}')\n"
    "print(f'answered on call {seen}')"
)


@pytest.mark.run_path
async def test_a_flaky_script_is_retried_until_it_answers(api, publish, counter):
    script_id = await publish(FLAKY, name="flaky")
    retries = json.dumps({"retries": {"max": 3, "on": [502], "backoff": 0.2}})
    patched = await api("scripting", "script", script_id, method="PATCH", body=retries)
    assert patched.code == 200
    assert body_json(patched)["retries"] == {"max": 3, "on": [502], "backoff": 0.2}
    body = json.dumps({"counter": counter})
    queued = await api("scripting", "script", script_id, "background", method="POST", body=body)
    assert queued.code == 202
    first = body_json(queued)["executionId"]
    failed = await wait_finished(api, script_id, first)
    assert failed.headers["X-Execution-Status"] == "502"
    assert "flaky: call 1" in body_json(failed)["message"]

    async def entries() -> list[dict[str, Any]]:
        log = await api("scripting", "log", "script", script_id)
        return list(body_json(log)["filteredLogs"])

    for _ in range(300):
        done = [e for e in await entries() if e["state"] in ("finished", "failed")]
        if len(done) == 3:
            break
        await asyncio.sleep(0.1)
    log = sorted(await entries(), key=lambda e: int(e["attempt"]))
    assert [(e["attempt"], e["statusCode"]) for e in log] == [(1, 502), (2, 502), (3, 200)]
    assert [e["retryOf"] for e in log] == [None, first, first]
    assert [e["retriedBy"] for e in log] == [log[1]["executionId"], log[2]["executionId"], None]
    last = await api("scripting", "log", "script", script_id, "execution", log[2]["executionId"])
    assert last.body == b"answered on call 3"
    assert Counter.count == 3
    # A PATCH of null turns them off.
    off = await api(
        "scripting", "script", script_id, method="PATCH", body=json.dumps({"retries": None})
    )
    assert body_json(off)["retries"] is None
    bad = json.dumps({"retries": {"max": 0}})
    refused = await api("scripting", "script", script_id, method="PATCH", body=bad)
    assert refused.code == 400 and '"max"' in body_json(refused)["message"]
