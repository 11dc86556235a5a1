"""A warm pool of fresh, single-use kernels: the start-up cost leaves the request path.

Each kernelspec that has been asked for keeps ``pool_size`` kernels started and ready
(their clients connected, IOPub subscribed, the execution path warmed by one ``pass``).
A run takes one, uses it once and discards it, exactly as with a freshly started kernel:
a pooled kernel is a process no run has touched, started in its own new working
directory with the scrubbed environment. The pool refills in the background; a pooled
kernel found dead is thrown away and never handed out.
"""

from __future__ import annotations

import asyncio
from collections import deque

from traitlets import Integer, List, Unicode

from ..errors import RunNotStarted
from ..metrics import POOL_READY
from .kernels import KernelHandle, KernelProvider, warm_up


class KernelPool(KernelProvider):
    """:class:`KernelProvider` with ``pool_size`` warm kernels per kernelspec."""

    #: ``ScriptingApp.kernel_pool_size``, passed in (not configurable here).
    pool_size = Integer(help="Kernels kept started and ready per kernelspec (0: none).")
    prestart = List(
        Unicode(),
        ["python3"],
        help="Kernelspecs whose pool is filled when the server starts (others on first use).",
    )

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._ready: dict[str, deque[KernelHandle]] = {}
        self._starting: dict[str, int] = {}
        self._refills: set[asyncio.Task[None]] = set()

    def ready_count(self, kernel_name: str) -> int:
        """Warm kernels of ``kernel_name`` waiting for a run."""
        return len(self._ready.get(kernel_name, ()))

    @property
    def in_use_count(self) -> int:
        """Kernels handed to runs and not yet released (not the warm or starting ones)."""
        waiting = sum(len(ready) for ready in self._ready.values())
        return self.live_count - waiting - self.starting_count

    @property
    def starting_count(self) -> int:
        """Kernels being started to refill the pool (not waiting for a run yet)."""
        return sum(self._starting.values())

    def pooled_pids(self) -> set[int]:
        """Process ids of the warm kernels waiting for a run."""
        return {h.pid for ready in self._ready.values() for h in ready if h.pid is not None}

    def pooled_kernels(self) -> dict[str, int | None]:
        """The warm kernels waiting for a run: their runtime directories, and pids."""
        return {h.runtime_dir: h.pid for ready in self._ready.values() for h in ready}

    def start_pools(self) -> None:
        """Fill the pools of ``prestart`` (call on the running event loop)."""
        for kernel_name in self.prestart:
            self._refill(kernel_name)

    async def acquire(self, kernel_name: str) -> KernelHandle:
        ready = self._ready.setdefault(kernel_name, deque())
        try:
            while ready:
                handle = ready.popleft()
                self._count(kernel_name)
                if await handle.km.is_alive():
                    return handle
                self.log.warning("Pooled %r kernel %s died; discarded", kernel_name, handle.pid)
                self.release_soon(handle)
        finally:
            self._refill(kernel_name)
        return await self.start_kernel(kernel_name)

    def _refill(self, kernel_name: str) -> None:
        """Start kernels in the background until the pool is full again."""
        if self._closed or self.pool_size <= 0:
            return
        ready = self._ready.setdefault(kernel_name, deque())
        missing = self.pool_size - len(ready) - self._starting.get(kernel_name, 0)
        for _ in range(max(0, missing)):
            self._starting[kernel_name] = self._starting.get(kernel_name, 0) + 1
            task = asyncio.ensure_future(self._start_one(kernel_name))
            self._refills.add(task)
            task.add_done_callback(self._refills.discard)

    async def _start_one(self, kernel_name: str) -> None:
        try:
            handle = await self.start_kernel(kernel_name)
            try:
                spec = handle.km.kernel_spec
                # Warming pays off for the next run's latency when runs are few; under a
                # burst the kernel is taken at once and the warm-up would only cost CPU.
                idle = self.in_use_count < self.pool_size
                if idle and spec is not None and spec.language.lower() == "python":
                    await warm_up(handle.kc, self.startup_timeout)
            except BaseException:
                await self.release(handle)
                raise
        except RunNotStarted as e:
            # No such kernelspec, or shutting down: a run asking for it will say so.
            self.log.debug("Pool for %r not refilled: %s", kernel_name, e)
            return
        except Exception:
            self.log.exception("Pool for %r not refilled", kernel_name)
            return
        finally:
            self._starting[kernel_name] -= 1
        if self._closed:
            await self.release(handle)
        else:
            self._ready.setdefault(kernel_name, deque()).append(handle)
            self._count(kernel_name)

    def _count(self, kernel_name: str) -> None:
        POOL_READY.labels(kernelspec=kernel_name).set(self.ready_count(kernel_name))

    async def shutdown(self) -> None:
        """Stop refilling, then kill every kernel, pooled ones included."""
        self._closed = True
        for task in list(self._refills):
            task.cancel()
        await asyncio.gather(*self._refills, return_exceptions=True)
        for kernel_name in self._ready:
            POOL_READY.labels(kernelspec=kernel_name).set(0)
        self._ready.clear()
        await super().shutdown()
