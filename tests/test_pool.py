"""The warm pool (README, "How a run works"): single-use kernels, refilled in the
background, dead ones never handed out, none left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

from jupyter_scripting.execution.pool import KernelPool

from .helpers import body_json, reported_kernel, scripting_app, server_config

pytestmark = pytest.mark.run_path

POOL = 2


@pytest.fixture
def jp_server_config():
    return server_config(kernel_pool_size=POOL, shutdown_grace=3.0)


async def wait_full(pool: KernelPool, size: int = POOL, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while pool.ready_count("python3") < size:
        assert time.monotonic() < deadline, f"pool at {pool.ready_count('python3')}/{size}"
        await asyncio.sleep(0.1)


async def run_pid(api, script_id: str) -> str:
    """The run's kernel (see ``reported_kernel``)."""
    answer = await api("scripting", "script", script_id, "run")
    assert answer.code == 200, answer.body
    return reported_kernel(body_json(answer))


def pooled(pool) -> set[str]:
    return set(pool.pooled_kernels())


async def test_runs_take_pooled_kernels_once_each(api, publish, jp_serverapp):
    pool = scripting_app(jp_serverapp).kernels
    script_id = await publish("leave_traces")
    await run_pid(api, script_id)  # the first run fills the pool
    await wait_full(pool)
    warm = pool.pooled_kernels()
    kernel = await run_pid(api, script_id)
    assert kernel in warm  # served from the pool...
    assert kernel not in pooled(pool)  # ...and never again
    await wait_full(pool)
    assert kernel not in pooled(pool)
    await wait_gone(warm[kernel])  # killed after its run (in the background: the answer went first)


async def wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"kernel {pid} still alive"
        await asyncio.sleep(0.05)


async def test_refills_after_a_burst_larger_than_the_pool(api, publish, jp_serverapp):
    pool = scripting_app(jp_serverapp).kernels
    script_id = await publish("leave_traces")
    await run_pid(api, script_id)
    await wait_full(pool)
    pids = await asyncio.gather(*(run_pid(api, script_id) for _ in range(POOL + 3)))
    assert len(set(pids)) == POOL + 3  # every run its own kernel
    await wait_full(pool)
    assert not pooled(pool) & set(pids)


async def test_a_dead_pooled_kernel_is_never_handed_out(api, publish, jp_serverapp):
    pool = scripting_app(jp_serverapp).kernels
    script_id = await publish("leave_traces")
    await run_pid(api, script_id)
    await wait_full(pool)
    dead = pooled(pool)
    for pid in pool.pooled_pids():
        os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.5)  # SIGKILL is not caught: they are gone (zombies until polled)
    pid = await run_pid(api, script_id)
    assert pid not in dead
    await wait_full(pool)
    assert not pooled(pool) & dead


async def test_shutdown_leaves_no_kernel_behind(jp_asyncio_loop):
    pool = KernelPool(pool_size=POOL, fork_kernelspecs=["python3"])  # as the app's default
    pool.start_pools()
    await wait_full(pool)
    pids = pool.pooled_pids()
    assert len(pids) == POOL
    handle = await pool.acquire("python3")  # one in use at shutdown too
    assert handle.pid is not None
    await pool.shutdown()
    procs = [psutil.Process(p) for p in (*pids, handle.pid) if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert pool.live_count == 0
