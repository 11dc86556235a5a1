"""Load (bounded, loopback only): 200 background runs submitted at once with a limit of
4 — every one accepted ends in the log with 200, and never more than 4 ran at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient

from .helpers import body_json, notebook_of, scripting_app, server_config

RUNS = 200
LIMIT = 4


@pytest.fixture
def jp_server_config():
    return server_config(max_background_runs=LIMIT, queue_poll_interval=0.5, shutdown_grace=3.0)


@pytest.mark.timeout(900)
async def test_200_background_runs_with_a_limit_of_4(
    publish, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header
):
    app: Any = scripting_app(jp_serverapp)
    script_id = await publish(notebook_of("print('done')"))
    client = AsyncHTTPClient(force_instance=True, max_clients=RUNS)
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}scripting/"
    started = time.monotonic()
    try:
        answers = await asyncio.gather(
            *(
                client.fetch(
                    f"{base}script/{script_id}/background",
                    method="POST",
                    body=b"{}",
                    headers=jp_auth_header,
                    raise_error=False,
                    request_timeout=120,
                )
                for _ in range(RUNS)
            )
        )
    finally:
        client.close()
    accepted_in = time.monotonic() - started
    assert [a.code for a in answers] == [202] * RUNS
    ids = {body_json(a)["executionId"] for a in answers}
    assert len(ids) == RUNS

    deadline = time.monotonic() + 800
    while True:
        queued, running = await app.store.count_background()
        if not queued and not running:
            break
        assert running <= LIMIT
        assert time.monotonic() < deadline, f"{queued} queued, {running} running"
        await asyncio.sleep(0.5)
    wall = time.monotonic() - started

    records, more = await app.store.list_executions("default", script_id, limit=1000)
    assert not more
    assert {r.id for r in records} == ids  # none lost, none extra
    assert all(r.status_code == 200 and r.state == "finished" for r in records)
    intervals = [(r.started_at, r.finished_at) for r in records]
    peak = max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)
    assert 1 <= peak <= LIMIT
    print(
        f"\n{RUNS} background runs: accepted {len(answers)} in {accepted_in:.1f} s, "
        f"logged {len(records)} (all 200), peak concurrency {peak} (limit {LIMIT}), "
        f"wall {wall:.1f} s"
    )
