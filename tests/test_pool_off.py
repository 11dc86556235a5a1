"""ScriptingApp.kernel_pool_size = 0 (README, "Configuration"): no kernel is started ahead
of a run; each run's kernel is started for it, after its request arrived."""

from __future__ import annotations

import asyncio
import time

import pytest

from .helpers import body_json, reported_kernel, scripting_app, server_config

pytestmark = pytest.mark.run_path

#: Long enough for a warm pool to fill (were it on).
SETTLE = 2.0
#: /proc's clock ticks are 10 ms: what an age measured in them may be off by, and more.
TICK = 0.05


@pytest.fixture
def jp_server_config():
    return server_config(kernel_pool_size=0, shutdown_grace=3.0)


async def test_pool_off_starts_a_kernel_per_run(api, publish, jp_serverapp):
    kernels = scripting_app(jp_serverapp).kernels
    script_id = await publish("leave_traces")
    seen = []
    for _ in range(2):
        # A warm pool fills after a kernelspec's first run: it would have time to here.
        await asyncio.sleep(SETTLE)
        assert kernels.pooled_kernels() == {}
        asked = time.monotonic()
        answer = await api("scripting", "script", script_id, "run")
        took = time.monotonic() - asked
        assert answer.code == 200, answer.body
        report = body_json(answer)
        # The kernel is younger than the request: started for it. A pooled kernel would
        # be about SETTLE seconds old.
        assert report["age"] <= took + TICK, (report["age"], took)
        seen.append(reported_kernel(report))
    assert seen[0] != seen[1]
