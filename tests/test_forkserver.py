"""The fork server (README, "How a run works"): kernels forked from a zygote, a zygote that
dies, a clean shutdown, the zygote's environment, and kernelspecs that are spawned instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from jupyter_scripting.execution.forkserver import (
    ForkServer,
    ForkServerProvisioner,
    forkable_argv,
)
from jupyter_scripting.execution.kernels import KernelProvider
from jupyter_scripting.execution.pool import KernelPool

from .helpers import body_json, reported_kernel, scripting_app, server_config
from .test_pool import wait_full

SECRET = "zygote-must-not-see-this-0123456789"


@pytest.fixture
def jp_server_config():
    if os.environ.get("JUPYTER_SCRIPTING_TEST_FORK") == "0":
        pytest.skip("the fork server is off in this pass")
    return server_config(kernel_pool_size=1, fork_kernelspecs=["python3"])


def zygote() -> ForkServer:
    return ForkServer.for_python(sys.executable)


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def run_pid(api, script_id: str) -> str:
    """The run's kernel (see ``reported_kernel``)."""
    answer = await api("scripting", "script", script_id, "run")
    assert answer.code == 200, answer.body
    return reported_kernel(body_json(answer))


async def test_run_kernels_are_forked_from_one_zygote(api, publish, jp_serverapp):
    script_id = await publish("leave_traces")
    pids = [await run_pid(api, script_id) for _ in range(3)]
    assert len(set(pids)) == 3
    server = zygote()
    assert server.pid is not None and server.pid not in pids
    pool = scripting_app(jp_serverapp).kernels
    for pid in pool.pooled_pids():  # the warm kernel's parent is the zygote, not the server
        assert psutil.Process(pid).ppid() == server.pid


async def test_the_zygote_dying_mid_burst_loses_no_run(api, publish, jp_serverapp):
    script_id = await publish("leave_traces")
    await run_pid(api, script_id)
    first = zygote().pid
    assert first is not None
    burst = [asyncio.ensure_future(run_pid(api, script_id)) for _ in range(6)]
    await asyncio.sleep(0.05)  # some kernels forked, others still to be asked for
    os.kill(first, signal.SIGKILL)
    pids = await asyncio.gather(*burst)
    assert len(set(pids)) == 6  # every run answered, each in its own kernel
    assert await run_pid(api, script_id) not in pids
    for _ in range(300):  # a new zygote serves the later runs (the pool's refill starts it)
        if zygote().pid is not None:
            break
        await asyncio.sleep(0.1)
    assert zygote().pid not in (None, first)
    assert gone(first)


async def test_fork_requests_pending_when_the_zygote_dies_are_retried(jp_asyncio_loop, tmp_path):
    server = zygote()
    env = dict(os.environ)
    await server.fork(["-f", str(tmp_path / "warm.json")], env, str(tmp_path))  # started
    first, starts = server.pid, server.starts
    assert first is not None
    os.kill(first, signal.SIGKILL)  # dies with the requests below written to it
    forks = [server.fork(["-f", str(tmp_path / f"{i}.json")], env, str(tmp_path)) for i in range(5)]
    pids = await asyncio.gather(*forks)
    try:
        assert len(set(pids)) == 5
        assert server.starts == starts + 1 and server.pid not in (None, first)
        for pid in pids:
            assert psutil.Process(pid).ppid() == server.pid
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        await server.stop()


async def test_the_zygote_never_gets_the_servers_credentials(
    api, publish, jp_serverapp, monkeypatch
):
    monkeypatch.setenv("SERVICE_API_KEY", SECRET)
    monkeypatch.setenv("INNOCENT_LOOKING", SECRET)
    app = scripting_app(jp_serverapp)
    app.kernels.secrets = [*app.kernels.secrets, SECRET]
    await zygote().stop()  # the next fork starts a zygote with today's environment
    script_id = await publish("leave_traces")
    await run_pid(api, script_id)
    pid = zygote().pid
    assert pid is not None
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert SECRET.encode() not in environ
    assert jp_serverapp.identity_provider.token.encode() not in environ
    assert b"SERVICE_API_KEY" not in environ


async def test_shutdown_leaves_no_zygote_or_kernel(jp_asyncio_loop):
    pool = KernelPool(pool_size=2, fork_kernelspecs=["python3"])
    pool.start_pools()
    await wait_full(pool, 2)
    in_use = await pool.acquire("python3")
    pids = {*pool.pooled_pids(), in_use.pid}
    zygote_pid = zygote().pid
    assert zygote_pid is not None
    for pid in pids:
        assert psutil.Process(pid).ppid() == zygote_pid
    await pool.shutdown()
    procs = [psutil.Process(p) for p in (*pids, zygote_pid) if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_only_ipykernel_commands_are_forked():
    assert forkable_argv(["/py", "-m", "ipykernel_launcher", "-f", "c.json"]) == ["-f", "c.json"]
    assert forkable_argv(["/py", "-m", "ipykernel", "-f", "c.json"]) == ["-f", "c.json"]
    assert forkable_argv(["/py", "-X", "dev", "-m", "ipykernel_launcher", "-f", "c"]) is None
    assert forkable_argv(["R", "--slave", "-e", "IRkernel::main()", "--args", "c"]) is None


def provider_with_kernelspec(tmp_path: Path, name: str, argv: list[str]) -> KernelProvider:
    """A provider that knows one kernelspec ``name`` (listed for forking) running ``argv``."""
    spec_dir = tmp_path / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {"argv": argv, "display_name": name, "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelProvider(
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
        fork_kernelspecs=[name],
    )


async def test_other_kernelspecs_are_spawned(jp_asyncio_loop, tmp_path):
    argv = [sys.executable, "-X", "dev", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernels = provider_with_kernelspec(tmp_path, "devmode", argv)
    handle = await kernels.start_kernel("devmode")
    try:
        assert isinstance(handle.km.provisioner, ForkServerProvisioner)
        assert handle.pid is not None
        assert psutil.Process(handle.pid).ppid() == os.getpid()  # spawned by us
        assert "-X" in psutil.Process(handle.pid).cmdline()
    finally:
        await kernels.shutdown()
    assert gone(handle.pid)


async def test_a_bare_interpreter_name_is_the_one_on_path(jp_asyncio_loop, tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "scripting-test-python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    argv = [wrapper.name, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernels = provider_with_kernelspec(tmp_path, "bare", argv)
    handle = await kernels.start_kernel("bare")
    try:
        zygote_pid = ForkServer.for_python(str(wrapper)).pid
        assert zygote_pid is not None  # a zygote of that interpreter, not of the server's
        assert handle.pid is not None
        assert psutil.Process(handle.pid).ppid() == zygote_pid
    finally:
        await kernels.shutdown()
