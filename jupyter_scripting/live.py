"""Live output of runs (README, "Live output").

While a run goes on, its runner hands each cell's start and each output to the run's
:class:`RunEvents`, which writes them to the store in batches (every
:data:`FLUSH_INTERVAL` seconds while output comes, and the rest with the run's result, so
a short run costs no extra transaction). The store is the only channel: a client on any
node reads the rows (``events`` route) and is woken by :class:`EventsHub` — at once by a
write of this node, through PostgreSQL's NOTIFY for another node's, and by polling at
worst (SQLite shared with a worker process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

from .protocols import StoreProtocol
from .store.records import EventRecord, ExecutionRecord

#: Seconds between two writes of a run's new events while it runs.
FLUSH_INTERVAL = 0.2
#: Bytes of event data a run keeps for its live view; past them its outputs are only in
#: the executed notebook (an event says so), cells' progress goes on.
MAX_EVENT_BYTES = 2**20
#: Events a stream reads from the store at once (a client far behind reads in pages).
PAGE = 500
#: Seconds a stream waits for a wake-up before it reads the store again anyway.
POLL_INTERVAL = 0.5
#: Seconds of silence after which a stream sends a comment (proxies close idle streams).
KEEP_ALIVE = 15.0
#: Kinds of output events, beside ``progress`` (a cell starts).
OUTPUT_KINDS = frozenset({"stream", "display", "cell-error"})


class EventsHub:
    """Wakes the live streams of this node waiting for a run's next events."""

    def __init__(self) -> None:
        self._waiting: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, execution_id: str) -> None:
        """The run has new events or has ended (call on the event loop)."""
        for waiter in self._waiting.pop(execution_id, ()):
            waiter.set()

    async def wait(self, execution_id: str, timeout: float) -> None:
        """Until :meth:`notify` for the run, or ``timeout`` seconds."""
        waiter = asyncio.Event()
        self._waiting[execution_id].add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
        finally:
            waiting = self._waiting.get(execution_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiting[execution_id]


class RunEvents:
    """One run's live events: numbered, merged where they can be (consecutive chunks of
    one stream), written to the store in batches."""

    def __init__(
        self,
        store: StoreProtocol,
        hub: EventsHub,
        execution_id: str,
        *,
        log: logging.Logger,
        flush_interval: float = FLUSH_INTERVAL,
        max_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.store = store
        self.hub = hub
        self.execution_id = execution_id
        self.log = log
        self.flush_interval = flush_interval
        self.max_bytes = max_bytes
        self._seq = 0
        self._bytes = 0
        self._capped = False
        #: Not yet written: [seq, kind, data] (a stream's text may still grow).
        self._pending: list[tuple[int, str, dict[str, Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Record one event (the runner calls this on the event loop; never raises)."""
        if self._closed:
            return
        if kind in OUTPUT_KINDS:
            if self._capped:
                return
            size = len(json.dumps(data))
            if self._bytes + size > self.max_bytes:
                self._capped = True
                kind, data = (
                    "stream",
                    {
                        "name": "stderr",
                        "text": "\n[jupyter_scripting] The live view ends here: the run's "
                        "outputs go on in its executed notebook.\n",
                    },
                )
            else:
                self._bytes += size
        last = self._pending[-1] if self._pending else None
        if (
            kind == "stream"
            and last is not None
            and last[1] == "stream"
            and last[2]["name"] == data.get("name")
        ):
            last[2]["text"] += data.get("text", "")
        else:
            self._seq += 1
            self._pending.append((self._seq, kind, dict(data)))
        if self._timer is None and self._flushing is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.flush_interval, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        batch = self._take()
        try:
            await self.store.append_events(self.execution_id, batch)
        except Exception as e:
            # Kept for the next write (the run's result carries whatever is left).
            self.log.warning("Run %s: could not store its live events (%s)", self.execution_id, e)
            self._pending[:0] = [(r.seq, r.kind, json.loads(r.data)) for r in batch]
        else:
            self.hub.notify(self.execution_id)
        finally:
            self._flushing = None
        if self._pending and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(
                self.flush_interval, self._start_flush
            )

    def _take(self) -> list[EventRecord]:
        batch = [
            EventRecord(seq=seq, kind=kind, data=json.dumps(data, ensure_ascii=False))
            for seq, kind, data in self._pending
        ]
        self._pending = []
        return batch

    async def close(self) -> list[EventRecord]:
        """Stop recording; the events not written yet (the run's result writes them)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flushing)
        return self._take()


def sse(kind: str, data: str, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: its id (if any), kind and its data (JSON text, one line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()


def status_data(record: ExecutionRecord, content: bytes) -> str:
    """The ``status`` event that ends a run's stream: how it ended, and for a failed run
    the message of its error document."""
    data: dict[str, Any] = {
        "state": record.state,
        "statusCode": record.status_code,
        "durationMs": record.duration_ms,
        "reason": record.reason,
    }
    if record.state == "failed" and record.content_type == "application/json":
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            data["message"] = str(json.loads(content)["message"])
    return json.dumps(data, ensure_ascii=False)
