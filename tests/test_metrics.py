"""Prometheus metrics on jupyter_server's /metrics (README, "Metrics"): runs by mode and outcome,
durations, runs in flight, the background queue, the warm pool — bounded labels."""

from __future__ import annotations

import asyncio
import os
import re
import time

import pytest

from .helpers import load_notebook, notebook_of


async def scrape(api) -> dict[str, float]:
    answer = await api("metrics")
    assert answer.code == 200
    samples = {}
    for line in answer.body.decode().splitlines():
        if line.startswith("jupyter_scripting_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def value(samples: dict[str, float], name: str) -> float:
    return samples.get(name, 0.0)


async def test_runs_are_counted_by_mode_and_outcome(api, publish):
    before = await scrape(api)
    hello = await publish("hello")
    failing = await publish(notebook_of("raise ValueError('no')"))
    body = '{"name": "Ada"}'
    assert (await api("scripting", "script", hello, "run", method="POST", body=body)).code == 200
    assert (await api("scripting", "script", failing, "run", method="POST")).code == 502
    queued = await api("scripting", "script", hello, "background", method="POST", body=body)
    assert queued.code == 202
    ok_bg = 'jupyter_scripting_runs_total{mode="background",outcome="ok"}'
    deadline = time.monotonic() + 60
    while True:
        after = await scrape(api)
        if value(after, ok_bg) > value(before, ok_bg):
            break
        assert time.monotonic() < deadline, "the background run was never counted"
        await asyncio.sleep(0.2)
    ok_sync = 'jupyter_scripting_runs_total{mode="sync",outcome="ok"}'
    failed = 'jupyter_scripting_runs_total{mode="sync",outcome="script-error"}'
    assert value(after, ok_sync) == value(before, ok_sync) + 1
    assert value(after, failed) == value(before, failed) + 1
    count = 'jupyter_scripting_run_duration_seconds_count{mode="sync"}'
    assert value(after, count) == value(before, count) + 2
    assert value(after, "jupyter_scripting_sync_runs_in_flight") == 0
    assert "jupyter_scripting_background_queue_depth" in after
    assert "jupyter_scripting_background_runs_running" in after
    # Label sets stay bounded: modes and outcomes only, never ids, names or paths.
    for name in after:
        for label, text in re.findall(r'(\w+)="([^"]*)"', name):
            assert label in {"mode", "outcome", "kernelspec", "le"}, name
            assert len(text) < 40, name


async def test_the_warm_pool_is_reported(api, publish):
    if os.environ.get("JUPYTER_SCRIPTING_TEST_POOL_SIZE") == "0":
        pytest.skip("the warm pool is off in this pass")
    script_id = await publish(load_notebook("hello"))
    body = '{"name": "Ada"}'
    answer = await api("scripting", "script", script_id, "run", method="POST", body=body)
    assert answer.code == 200, answer.body
    deadline = time.monotonic() + 60
    while value(await scrape(api), 'jupyter_scripting_warm_pool_kernels{kernelspec="python3"}') < 1:
        assert time.monotonic() < deadline, "the warm pool never showed up in the metrics"
        await asyncio.sleep(0.2)
