"""Fresh, single-use kernels for runs, kept apart from the user's kernels.

Every run gets a kernel process no earlier run touched, started in a new temporary
working directory with an environment scrubbed of the server's credentials. The
kernels are the extension's own (never the server's ``MappingKernelManager``), so they
never show up in ``/api/kernels`` and the idle culler never sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import queue
import shutil
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Float, Instance, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..credentials import DEFAULT_ENV_DENYLIST, scrub_environment
from ..errors import RunNotStarted
from .forkserver import PROVISIONER_NAME, ForkServer
from .sandbox_policy import Sandbox


@dataclass(eq=False)
class KernelHandle:
    """A started kernel, its ready client, and its private working directory."""

    kernel_name: str
    km: AsyncKernelManager
    kc: object  # jupyter_client.asynchronous.AsyncKernelClient
    workdir: str | None  # None when sandboxed (its working directory is in the sandbox)
    runtime_dir: str
    pid: int | None = None
    #: The kernel's sandbox configuration (None: not sandboxed).
    sandbox: dict[str, Any] | None = None
    _released: bool = field(default=False, repr=False)


class KernelProvider(LoggingConfigurable):
    """Starts a fresh kernel for each run and kills it (with its children) afterwards."""

    # The settings below are ScriptingApp's (its traits of the same names with "kernel_"
    # in front, and fork_kernelspecs): it passes them in. None is configurable here.
    startup_timeout = Float(60.0, help="Seconds a kernel may take to start and answer.")
    env_denylist = Unicode(
        DEFAULT_ENV_DENYLIST,
        help="Server environment variables whose names match are not passed to kernels.",
    )
    extra_env = Dict(help="Environment variables added to every run's kernel.")
    secrets = List(
        Unicode(),
        help="Secret values (server token, password hash...) that must never reach a kernel.",
    )
    fork_kernelspecs = List(
        Unicode(),
        help="""Kernelspecs whose kernels are forked from the zygote (as does any kernelspec
        whose kernel.json names the fork-server provisioner); the others are spawned.""",
    )
    kernel_spec_manager = Instance(KernelSpecManager)
    sandbox = Instance(
        Sandbox,
        allow_none=True,
        help="The sandbox of every kernel (``ScriptingApp`` makes it); None: no sandbox.",
    )

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return KernelSpecManager(parent=self)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._live: set[KernelHandle] = set()
        self._closed = False
        self._cleanups: set[asyncio.Task[None]] = set()
        self._launches: set[asyncio.Future[Any]] = set()
        self._env_cache: tuple[object, dict[str, str]] | None = None
        self._specs: dict[str, tuple[float, KernelSpec]] = {}
        # One ZeroMQ context for every run's client (a context per kernel would start an
        # I/O thread per run); reconnect quickly to a kernel that has not bound yet.
        self._context = zmq.asyncio.Context()
        self._context.setsockopt(zmq.RECONNECT_IVL, 10)

    def kernel_env(self) -> dict[str, str]:
        """The environment a run's kernel gets: the server's, without credentials."""
        key = (
            frozenset(os.environ.items()),
            self.env_denylist,
            tuple(self.secrets),
            frozenset(self.extra_env.items()),
        )
        if self._env_cache is None or self._env_cache[0] != key:
            env = scrub_environment(os.environ, self.secrets, self.env_denylist)
            env.update(self.extra_env)
            self._env_cache = (key, env)
        return dict(self._env_cache[1])

    def _kernel_spec(self, kernel_name: str) -> KernelSpec:
        """A fresh copy of the kernelspec, read from disk at most once a minute.

        ``NoSuchKernel`` if there is none."""
        now = time.monotonic()
        cached = self._specs.get(kernel_name)
        if cached is None or now - cached[0] > 60:
            cached = (now, self.kernel_spec_manager.get_kernel_spec(kernel_name))
            self._specs[kernel_name] = cached
        spec = cached[1]
        return KernelSpec(resource_dir=spec.resource_dir, **copy.deepcopy(spec.to_dict()))

    async def acquire(self, kernel_name: str) -> KernelHandle:
        """A kernel no run has touched, ready for one run; ``RunNotStarted`` otherwise."""
        return await self.start_kernel(kernel_name)

    def lease(self, kernel_name: str) -> Lease:
        """One run's use of one kernel: ``async with kernels.lease(name) as lease``, then
        ``await lease.acquire()`` (under the run's deadline)."""
        return Lease(self, kernel_name)

    async def start_kernel(self, kernel_name: str) -> KernelHandle:
        """Start a fresh kernel and wait until it answers; ``RunNotStarted`` otherwise."""
        if self._closed:
            raise RunNotStarted("The server is shutting down: no kernel can be started.")
        # IPC sockets in a private directory: no TCP port races between many kernels
        # starting at once, and no port any other local user could connect to. In memory
        # where possible (the IPython directory's dozen files come and go with every run).
        runtime_dir = tempfile.mkdtemp(prefix="jupyter-scripting-rt-", dir=_runtime_base())
        km = AsyncKernelManager(
            kernel_name=kernel_name,
            kernel_spec_manager=self.kernel_spec_manager,
            context=self._context,
            transport="ipc",
            connection_file=os.path.join(runtime_dir, "kernel.json"),
            ip=os.path.join(runtime_dir, "kernel-ipc"),
            log=self.log,
        )
        handle = KernelHandle(kernel_name, km, None, None, runtime_dir)
        self._live.add(handle)
        try:
            km._kernel_spec = self._kernel_spec(kernel_name)  # read from disk once a minute
            options = self._launch_options(km, handle)
            env = self.kernel_env()
            # A private IPython directory per run: IPython's history and profile (startup
            # files!) would otherwise be shared by every run, a way for one run to read
            # another's code or to plant code in the next ones.
            env["IPYTHONDIR"] = os.path.join(runtime_dir, "ipython")
            if handle.sandbox is not None:
                env["HOME"] = cwd = handle.sandbox["home"]  # on the sandbox's own tmpfs
            else:
                handle.workdir = cwd = tempfile.mkdtemp(prefix="jupyter-scripting-")
            await self._uninterrupted(km.start_kernel(env=env, cwd=cwd, **options))
            kc = km.client(context=self._context)
            # nbclient needs shell and IOPub only (no input is allowed; liveness is the
            # process's): no stdin socket, and no heartbeat thread per run.
            kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
            handle.kc = kc
            handle.pid = getattr(km.provisioner, "pid", None)
            await wait_ready(km, kc, self.startup_timeout)
            if handle._released:
                # shutdown() released it while it was starting.
                raise RunNotStarted("The server is shutting down: no kernel can be started.")
        except NoSuchKernel as e:
            await self.release(handle)
            raise RunNotStarted(f"No kernel named {kernel_name!r} is installed.") from e
        except (asyncio.CancelledError, RunNotStarted):
            await self.release(handle)
            raise
        except Exception as e:
            await self.release(handle)
            self.log.exception("Could not start a %r kernel", kernel_name)
            raise RunNotStarted(f"A {kernel_name!r} kernel could not be started: {e}") from e
        return handle

    async def _uninterrupted(self, launch: Awaitable[Any]) -> None:
        """Await a kernel's launch to its end even if the caller is cancelled meanwhile (a
        run's deadline, a caller gone), then pass the cancellation on. A launch cut short
        would leave a process starting that nobody knows (a fork whose answer nobody reads)
        while its directories are removed under it; finished, the caller's release kills
        it. Shutdown waits for the launches still going before it stops the zygotes."""
        task = asyncio.ensure_future(launch)
        self._launches.add(task)
        task.add_done_callback(self._launches.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise

    def _launch_options(self, km: AsyncKernelManager, handle: KernelHandle) -> dict[str, Any]:
        """Choose the fork-server provisioner for kernels it forks or sandboxes (their
        kernel.json need not say so); what ``start_kernel`` passes it. Makes the
        kernel's sandbox (``handle.sandbox``)."""
        spec = km.kernel_spec  # read once per manager; a fresh object we may amend
        if spec is None:
            return {}
        named = (spec.metadata.get("kernel_provisioner") or {}).get("provisioner_name")
        fork = km.kernel_name in self.fork_kernelspecs or named == PROVISIONER_NAME
        sandbox = self.sandbox
        if sandbox is not None and sandbox.applies_to(km.kernel_name):
            if named in (None, PROVISIONER_NAME):
                handle.sandbox = sandbox.kernel_config(km.kernel_name, handle.runtime_dir)
            elif sandbox.mode == "required":
                raise RunNotStarted(
                    f"Kernels of {km.kernel_name!r} have their own provisioner ({named}) and "
                    "cannot be sandboxed; ScriptingApp.sandbox is 'required' (list the "
                    "kernelspec in ScriptingApp.sandbox_exempt_kernelspecs to run it anyway)."
                )
            else:
                sandbox.warn_once(km.kernel_name, f"its kernelspec names provisioner {named}")
        if not fork and handle.sandbox is None:
            return {}
        if not named:
            spec.metadata["kernel_provisioner"] = {"provisioner_name": PROVISIONER_NAME}
        return {"fork": fork, "sandbox": handle.sandbox}

    def limit_reached(self, handle: KernelHandle, ename: str | None) -> str | None:
        """``"memory"`` or ``"processes"`` if a sandbox limit stopped the kernel's run."""
        if self.sandbox is None:
            return None
        return self.sandbox.limit_reached(handle.sandbox, ename)

    async def release(self, handle: KernelHandle) -> None:
        """Kill the kernel's process group now and remove its working directory.

        Safe to call again: a kernel that finished starting after an earlier release
        (shutdown during start-up) is killed by the later one."""
        handle._released = True
        try:
            if handle.kc is not None:
                handle.kc.stop_channels()  # type: ignore[attr-defined]
            if handle.km.has_kernel:
                await handle.km.shutdown_kernel(now=True)
            else:
                await handle.km.cleanup_resources()
        except Exception:
            self.log.exception("Could not stop kernel %s", handle.pid)
        finally:
            # Off the event loop: file system calls can take milliseconds each.
            await asyncio.to_thread(self._remove, handle)
            self._live.discard(handle)

    def _remove(self, handle: KernelHandle) -> None:
        """Remove what the kernel had on the host: directories, cgroups."""
        for path in (handle.workdir, handle.runtime_dir):
            if path:
                shutil.rmtree(path, ignore_errors=True)
        if self.sandbox is not None:
            self.sandbox.release(handle.sandbox)

    def release_soon(self, handle: KernelHandle) -> None:
        """Release in the background (the answer need not wait for the kill)."""
        task = asyncio.ensure_future(self.release(handle))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @property
    def live_count(self) -> int:
        """Kernels currently started and not yet released."""
        return len(self._live)

    @property
    def in_use_count(self) -> int:
        """Kernels handed to runs and not yet released."""
        return len(self._live)

    async def shutdown(self) -> None:
        """Kill every kernel still alive, and start no more (server shutdown)."""
        self._closed = True
        await asyncio.gather(*(self.release(h) for h in list(self._live)), *self._cleanups)
        # Launches still going finish (then their starters kill them) before the zygotes
        # stop: else a fork in flight would start a zygote again after this.
        await asyncio.gather(*self._launches, return_exceptions=True)
        await asyncio.gather(*(self.release(h) for h in list(self._live)), *self._cleanups)
        await ForkServer.stop_all()
        self._context.destroy(linger=0)


class Lease:
    """A kernel for one run, given back when the ``async with`` block ends.

    The kernel is taken with :meth:`acquire` inside the block (so that the run's deadline,
    entered after the lease, covers the kernel's start). When the block ends with an
    error, the sandbox limit the kernel hit is read (into ``limit``) and the kernel is
    killed before the block is left: a failed run answers only once its kernel is gone.
    A run that answered gives its kernel back in the background.
    """

    def __init__(self, kernels: KernelProvider, kernel_name: str) -> None:
        self.kernels = kernels
        self.kernel_name = kernel_name
        self.handle: KernelHandle | None = None
        #: "memory" or "processes" if a sandbox limit stopped the run (read at its end).
        self.limit: str | None = None

    async def acquire(self) -> KernelHandle:
        self.handle = await self.kernels.acquire(self.kernel_name)
        return self.handle

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        handle = self.handle
        if handle is None:
            return
        if exc is None:
            self.kernels.release_soon(handle)
            return
        # Read before the kernel's cgroups go with it.
        self.limit = self.kernels.limit_reached(handle, getattr(exc, "ename", None))
        await self.kernels.release(handle)


def _runtime_base() -> str | None:
    """A private in-memory directory for kernels' runtime files, if the system has one."""
    for base in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            return base
    return None  # the temporary directory


async def warm_up(kc: Any, timeout: float) -> None:
    """Run ``pass`` once, so that a run does not pay for the kernel's first execution.

    The first execute request of a fresh ipykernel costs ~20 ms more than the next ones
    (first use of IPython's execution path). A pooled kernel pays it while it waits. No
    script code runs, and ``store_history=False`` keeps the execution count at 1, so the
    run sees the same kernel as an unwarmed one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    msg_id = kc.execute("pass", store_history=False)
    while True:  # its IOPub "idle" comes after everything else it published
        msg = await kc.get_iopub_msg(timeout=max(0.0, deadline - loop.time()))
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"].get("execution_state") == "idle"
        ):
            return


async def wait_ready(km: AsyncKernelManager, kc: Any, timeout: float) -> None:
    """Wait until the kernel answers and its IOPub messages reach ``kc``.

    jupyter_client's ``wait_for_ready`` ends with a fixed 200 ms drain of IOPub. Here the
    kernel is asked for ``kernel_info`` until IOPub proves the subscription is in place:
    by ``iopub_welcome`` (JEP 65, ipykernel 7: sent once the kernel saw our
    subscription) or by the status message of one of our requests (older kernels). From
    then on no output of the first cell can be lost, and nobody waits for silence."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = 0.05
    sent: set[str] = set()
    while True:
        if loop.time() >= deadline:
            raise TimeoutError(f"the kernel did not answer within {timeout:g} s")
        if not await km.is_alive():
            raise RuntimeError("the kernel died while starting")
        sent.add(kc.kernel_info())
        until = min(loop.time() + interval, deadline)
        while (left := until - loop.time()) > 0:
            try:
                msg = await kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                break
            if msg["msg_type"] == "iopub_welcome" or msg["parent_header"].get("msg_id") in sent:
                return
        interval = min(interval * 2, 1.0)
