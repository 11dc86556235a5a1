"""This node's membership of the cluster: its row in the node registry, its heartbeat,
its turn at reaping the runs of dead nodes, and its ear on the queue's notifications.

Every node (a server, or a worker started with ``jupyter scripting worker``) runs one.
Nothing here keeps shared state in memory: the registry, the seats and the queue are
rows of the store (:mod:`.store.nodes`, :mod:`.store.seats`), so any number of nodes can
share one PostgreSQL database. An SQLite store has one node; the same code runs there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

from .errors import NodeLost, RunTimedOut, ScriptingError
from .failures import RepeatedFailure
from .protocols import NodeRegistryProtocol
from .store.nodes import Reaped


def _document(error: type[ScriptingError], message: str) -> Callable[[str], bytes]:
    def content(execution_id: str) -> bytes:
        document = error(message, execution_id=execution_id).document()
        return json.dumps(document).encode("utf-8")

    return content


class Membership:
    """Registers this node, keeps its heartbeat, reaps, and wakes the queue on NOTIFY."""

    def __init__(
        self,
        store: NodeRegistryProtocol,
        *,
        node: str,
        kind: str,
        heartbeat_interval: float,
        node_timeout: float,
        deadlines: dict[str, float],
        wake_queue: Callable[[], None],
        log: logging.Logger,
        on_events: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.node = node
        self.kind = kind
        #: This start of the node: a node started again under the same name takes over.
        self.instance = str(uuid.uuid4())
        self.heartbeat_interval = heartbeat_interval
        self.node_timeout = node_timeout
        self.deadlines = deadlines
        self.wake_queue = wake_queue
        #: Told the id of a run another node wrote live events or the result of.
        self.on_events = on_events
        self.log = log
        self._registered = False
        self._beating: asyncio.Task[None] | None = None
        self._listener: threading.Thread | None = None
        self._stop_listening = threading.Event()
        self._failures = RepeatedFailure(
            log, "write the node's heartbeat", "The node's heartbeat is written again"
        )
        self._lost = _document(
            NodeLost,
            "The node running this script stopped answering; the run was ended without "
            "its result (it is not run again on its own).",
        )
        self._overdue = _document(
            RunTimedOut,
            "The run went on past its deadline and its node did not end it; it was ended "
            "without its result.",
        )

    async def start(self) -> None:
        """Register (the store is open), then beat, reap and listen in the background."""
        previous = await self.store.register_node(self.node, self.instance, self.kind)
        self._registered = True
        if previous is not None:
            silent = time.time() - previous.heartbeat_at.timestamp()
            if silent < self.node_timeout:
                self.log.warning(
                    "Node name %r was in use %.0f s ago: if another server or worker still "
                    "runs under it, give each its own ScriptingApp.node_name",
                    self.node,
                    silent,
                )
        self._beating = asyncio.ensure_future(self._beat())
        loop = asyncio.get_running_loop()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.wake_queue)

        def told(execution_id: str) -> None:
            if self.on_events is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self.on_events, execution_id)

        def listen() -> None:
            self.store.listen_queue(wake, self._stop_listening, told)

        self._listener = threading.Thread(
            target=listen, name="scripting-queue-listener", daemon=True
        )
        self._listener.start()

    async def _beat(self) -> None:
        while True:
            try:
                said = await self.store.heartbeat(self.node, self.instance, self.kind)
                if said == "lost":
                    self.log.error(
                        "This node (%s) was taken for dead by another node (no heartbeat "
                        "for %g s): its running runs were recorded as node-lost; it is "
                        "registered again",
                        self.node,
                        self.node_timeout,
                    )
                elif said == "taken":
                    self.log.error(
                        "Another server or worker registered under this node's name %r: "
                        "give each its own ScriptingApp.node_name",
                        self.node,
                    )
                reaped = await self.store.reap(
                    node_timeout=self.node_timeout,
                    deadlines=self.deadlines,
                    lost=self._lost,
                    overdue=self._overdue,
                )
                self._report_reaped(reaped)
            except Exception as e:
                self._failures.failed(e)
            else:
                self._failures.succeeded()
            await asyncio.sleep(self.heartbeat_interval)

    def _report_reaped(self, reaped: Reaped) -> None:
        if reaped.nodes:
            self.log.warning(
                "Nodes %s stopped answering (no heartbeat for %g s): %d of their runs "
                "recorded as node-lost, their seats given back",
                ", ".join(reaped.nodes),
                self.node_timeout,
                len(reaped.lost),
            )
        if reaped.overdue:
            self.log.warning("Ended %d runs past their deadline", len(reaped.overdue))
        if reaped.stray_seats:
            self.log.warning("Gave back %d seats no run held", reaped.stray_seats)
        if reaped.lost or reaped.overdue or reaped.stray_seats:
            self.wake_queue()

    async def stop(self) -> None:
        """Stop beating and listening; leave the registry (nothing of this node runs)."""
        self._stop_listening.set()
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
            self._beating = None
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)
            self._listener = None
        if not self._registered:
            return  # the store never opened
        self._registered = False
        try:
            await self.store.leave_node(self.node, self.instance)
        except Exception:
            self.log.exception("Could not remove this node from the registry")
