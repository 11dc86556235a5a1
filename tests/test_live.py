"""README, "Live output": a run's events as Server-Sent Events, while it runs (from any
node: through the store), replayed from the start for a late client, ending with the
run's status."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import pytest

from jupyter_scripting.store.records import EventRecord

from .helpers import body_json, notebook_of, server_config


@pytest.fixture
def jp_server_config():
    return server_config(sync_timeout=30.0, queue_poll_interval=0.2)


#: Prints a line a second for five seconds, each with the time it was printed.
TICKING = notebook_of(
    "import time",
    "for i in range(5):\n    print(f'tick {i} {time.time():.3f}', flush=True)\n    time.sleep(1)",
    "display({'text/plain': 'done'}, raw=True)\nresponse.write('ok')",
)


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE text (id, event, data parsed as JSON); comments skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value
        if event:
            events.append(event)
    return events


def events_path(script_id: str, execution_id: str) -> tuple[str, ...]:
    return ("scripting", "log", "script", script_id, "execution", execution_id, "events")


async def background(api, script_id: str) -> str:
    answer = await api("scripting", "script", script_id, "background", method="POST")
    assert answer.code == 202, answer.body
    return str(body_json(answer)["executionId"])


@pytest.fixture
def stream(http_server_client, jp_auth_header, jp_base_url):
    """Read an events URL as it comes: [(arrival time, chunk)] until the server ends it."""

    async def read(script_id: str, execution_id: str, **kwargs: Any) -> list[tuple[float, str]]:
        chunks: list[tuple[float, str]] = []
        url = jp_base_url + "/".join(events_path(script_id, execution_id))
        response = await http_server_client.fetch(
            url,
            headers={**jp_auth_header, **kwargs.pop("headers", {})},
            streaming_callback=lambda data: chunks.append((time.time(), data.decode())),
            request_timeout=60,
            **kwargs,
        )
        assert response.code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return chunks

    return read


@pytest.mark.run_path
async def test_events_arrive_while_the_script_runs_and_end_with_its_status(api, publish, stream):
    script_id = await publish(TICKING)
    execution_id = await background(api, script_id)
    chunks = await stream(script_id, execution_id)
    events = parse_sse("".join(text for _, text in chunks))
    assert events[-1]["event"] == "status"
    assert events[-1]["data"]["state"] == "finished"
    assert events[-1]["data"]["statusCode"] == 200
    # The first tick was in the client's hands within a second of being printed, long
    # before the run ended (four more seconds of ticks).
    first = next(i for i, (_, text) in enumerate(chunks) if "tick 0 " in text)
    arrived, text = chunks[first]
    printed = float(text.split("tick 0 ")[1].split("\\n")[0].split()[0].rstrip('"\\n'))
    assert arrived - printed < 1.0, (arrived, printed)
    assert not any("event: status" in later for _, later in chunks[: first + 1])
    ticks = "".join(e["data"]["text"] for e in events if e["event"] == "stream")
    assert [line.split()[1] for line in ticks.splitlines()] == ["0", "1", "2", "3", "4"]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert [(p["cell"], p["cells"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    (display,) = [e["data"] for e in events if e["event"] == "display"]
    assert display["data"] == {"text/plain": "done"}
    assert {"event": "state", "data": {"state": "running"}} in events
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_late_client_gets_the_whole_replay_and_can_resume(api, publish):
    script_id = await publish(notebook_of("print('one')", "print('two')", "1 / 0"))
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 502, answer.body
    execution_id = answer.headers["X-Execution-Id"]
    replay = await api(*events_path(script_id, execution_id))
    assert replay.code == 200
    events = parse_sse(replay.body.decode())
    kinds = [e["event"] for e in events]
    assert kinds == ["progress", "stream", "progress", "stream", "progress", "cell-error", "status"]
    assert [e["data"]["text"] for e in events if e["event"] == "stream"] == ["one\n", "two\n"]
    error = events[5]["data"]
    assert error["ename"] == "ZeroDivisionError"
    status = events[-1]["data"]
    assert status["state"] == "failed" and status["statusCode"] == 502
    assert "ZeroDivisionError" in status["message"]
    # Resuming after an event sends only what came after it (then the status again).
    third = events[2]["id"]
    for resumed in (
        await api(*events_path(script_id, execution_id), params={"after": third}),
        await api(*events_path(script_id, execution_id), headers={"Last-Event-ID": third}),
    ):
        assert [e["event"] for e in parse_sse(resumed.body.decode())] == kinds[3:]


async def test_events_of_unknown_runs_and_bad_positions_are_json_errors(api, publish):
    script_id = await publish(notebook_of("print('hi')"))
    missing = await api(*events_path(script_id, str(uuid.uuid4())))
    assert missing.code == 404
    assert body_json(missing)["reason"] == "not-found"
    answer = await api("scripting", "script", script_id, "run", method="POST")
    execution_id = answer.headers["X-Execution-Id"]
    for kwargs in ({"params": {"after": "x"}}, {"headers": {"Last-Event-ID": "-1"}}):
        bad = await api(*events_path(script_id, execution_id), **kwargs)
        assert bad.code == 400, kwargs
        assert "message" in body_json(bad)
    other = await api(*events_path(str(uuid.uuid4()), execution_id))
    assert other.code == 404


# -- across nodes: the events go through the store --------------------------------


@pytest.mark.postgresql
async def test_another_node_is_told_of_new_events_through_postgresql():
    from jupyter_scripting.store.records import ExecutionResult
    from jupyter_scripting.store.service import Store

    from .helpers import postgres_schema

    with postgres_schema() as (url, schema):
        options = {"options": f"-csearch_path={schema}"}
        writer, reader = Store(url, connect_args=options), Store(url, connect_args=options)
        await writer.start()
        await reader.start()
        try:
            script = await writer.create_script("t", "ticking", json.dumps(TICKING))
            execution_id = str(uuid.uuid4())
            await writer.log_run(
                execution_id=execution_id,
                tenant="t",
                script_id=script.id,
                mode="sync",
                method="POST",
                node="a",
            )
            told: list[str] = []
            stop = threading.Event()
            loop = asyncio.get_running_loop()
            heard = asyncio.Event()

            def events(payload: str) -> None:
                if payload == execution_id:  # (other tests' runs notify the same channel)
                    told.append(payload)
                    loop.call_soon_threadsafe(heard.set)

            listener = threading.Thread(
                target=reader.listen_queue, args=(lambda: None, stop, events), daemon=True
            )
            listener.start()
            await asyncio.sleep(1.0)  # listening
            await writer.append_events(
                execution_id, [EventRecord(1, "stream", '{"name":"stdout","text":"a"}')]
            )
            await asyncio.wait_for(heard.wait(), 10)
            assert told
            record, content, rows = await reader.read_events(
                "t", script.id, execution_id, after=0, limit=10
            )
            assert record.state == "running" and content is None
            assert [r.kind for r in rows] == ["stream"]
            heard.clear()
            now = record.created_at
            await writer.finish_execution(
                execution_id,
                ExecutionResult(
                    state="finished",
                    status_code=200,
                    reason=None,
                    content_type="text/plain",
                    content=b"ok",
                    notebook=None,
                    started_at=now,
                    finished_at=now,
                    duration_ms=1.0,
                ),
                [EventRecord(2, "progress", '{"cell":1,"cells":1,"index":0}')],
            )
            await asyncio.wait_for(heard.wait(), 10)
            record, content, rows = await reader.read_events(
                "t", script.id, execution_id, after=1, limit=10
            )
            assert record.state == "finished" and content == b"ok"
            assert [r.seq for r in rows] == [2]
            stop.set()
            await asyncio.to_thread(listener.join, 5)
        finally:
            await writer.close()
            await reader.close()
