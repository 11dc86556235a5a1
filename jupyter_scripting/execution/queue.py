"""The background queue: which tenant's run goes next (:func:`next_in_line`, the
queue's fairness), and the dispatcher that takes queued runs from the store and runs them.

The queue itself lives in the database (every accepted background run is a ``queued``
execution row), so it survives restarts and can be shared by several servers. This
dispatcher only decides *when* to ask the store for the next run: as soon as one is
submitted or finishes here, and every ``poll_interval`` seconds for runs submitted
elsewhere or left from before a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ..failures import RepeatedFailure
from ..store.records import ClaimedRun

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class TenantQueue:
    """One tenant's place in the background queue."""

    tenant: str
    oldest: int  # the queue position (sequence number) of its oldest queued run
    running: int = 0  # its background runs executing now, on every node
    last_started: dt.datetime | None = None  # when its last background run started


def next_in_line(queues: Iterable[TenantQueue]) -> TenantQueue | None:
    """The tenant whose oldest queued run starts next (None: nothing is queued).

    Fewest runs executing first; among those, the tenant served longest ago (round
    robin); then the oldest queued run. So one tenant's thousand queued runs never starve
    another tenant's one, and tenants with equal shares take turns.
    """
    return min(
        queues,
        key=lambda q: (q.running, q.last_started or _NEVER, q.oldest),
        default=None,
    )


class BackgroundDispatcher:
    """Keeps up to ``max_running`` claimed background runs executing."""

    def __init__(
        self,
        claim: Callable[[], Awaitable[ClaimedRun | None]],
        execute: Callable[[ClaimedRun], Awaitable[None]],
        *,
        max_running: Callable[[], int],
        poll_interval: float,
        log: logging.Logger,
        observe: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._claim = claim
        self._observe = observe
        self._execute = execute
        self.max_running = max_running
        self.poll_interval = poll_interval
        self.log = log
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self.running: set[asyncio.Task[None]] = set()
        self._failures = RepeatedFailure(
            log, "take background runs from the queue", "The background queue can be read again"
        )

    def start(self) -> None:
        """Start dispatching (on the running event loop)."""
        if self._loop_task is None:
            self._loop_task = asyncio.ensure_future(self._dispatch())

    def wake(self) -> None:
        """Look at the queue now (a run was queued, or a slot freed)."""
        self._wake.set()

    async def _dispatch(self) -> None:
        while True:
            self._wake.clear()
            try:
                while len(self.running) < self.max_running():
                    claimed = await self._claim()
                    if claimed is None:
                        break
                    task = asyncio.ensure_future(self._execute(claimed))
                    self.running.add(task)
                    task.add_done_callback(self._done)
                if self._observe is not None:
                    await self._observe()  # e.g. the queue's metrics
            except Exception as e:
                # The store failed: the runs stay queued; try again at the next poll.
                self._failures.failed(e)
            else:
                self._failures.succeeded()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("A background run failed", exc_info=task.exception())
        self.wake()

    async def stop_dispatching(self) -> None:
        """Take no more runs from the queue (the queued ones stay for the next start)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    async def wait_running(self, timeout: float) -> bool:
        """Wait until the runs taken so far have ended; False if ``timeout`` passed first."""
        if not self.running:
            return True
        _, pending = await asyncio.wait(list(self.running), timeout=timeout)
        return not pending
