"""The node registry: every server and worker sharing the store, its heartbeat, and the
reaper that closes the runs of a node that died.

A node registers a row under its name when it opens the store and refreshes
``heartbeat_at`` every ``heartbeat_interval``. Any live node reaps, one at a time (a
PostgreSQL advisory lock taken for the transaction; SQLite lets one writer in at once):
the runs of a node whose heartbeat is older than ``node_timeout`` are recorded as failed
(500, ``node-lost``) and their seats given back, the node's row is removed, and runs
past their deadline by more than ``node_timeout`` are closed whichever node has them.
"""

from __future__ import annotations

import datetime as dt
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from .database import Database, _rowcount, log
from .events import EVENTS_CHANNEL
from .models import Execution, Node, Seat
from .seats import QUEUE_CHANNEL

#: Key of the PostgreSQL advisory lock one reaper holds at a time.
_REAPER_LOCK_KEY = zlib.crc32(b"jupyter_scripting.store.reaper")

Heartbeat = Literal["alive", "lost", "taken"]


@dataclass(frozen=True)
class NodeRecord:
    name: str
    instance: str
    kind: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime


@dataclass
class Reaped:
    """What one pass of the reaper did."""

    nodes: list[str] = field(default_factory=list)  # nodes found dead (rows removed)
    lost: list[str] = field(default_factory=list)  # their runs, now failed "node-lost"
    overdue: list[str] = field(default_factory=list)  # runs past their deadline, closed
    stray_seats: int = 0  # seats held by no running execution, given back

    def __bool__(self) -> bool:
        return bool(self.nodes or self.lost or self.overdue or self.stray_seats)


class NodeRegistry(Database):
    """Nodes: registered, kept alive, listed; the dead ones' runs closed."""

    async def register_node(self, name: str, instance: str, kind: str) -> NodeRecord | None:
        """Write (or take over) the row of node ``name`` for this start of it; the row
        another start of that name had left (None: there was none)."""

        def work(session: Session) -> NodeRecord | None:
            now = self._now()
            previous = session.scalars(
                select(Node).where(Node.name == name).with_for_update()
            ).one_or_none()
            record = None if previous is None else _node_record(previous)
            if previous is None:
                session.add(
                    Node(name=name, instance=instance, kind=kind, started_at=now, heartbeat_at=now)
                )
            else:
                previous.instance, previous.kind = instance, kind
                previous.started_at = previous.heartbeat_at = now
            return record

        return await self._transact("register the node", work)

    async def heartbeat(self, name: str, instance: str, kind: str) -> Heartbeat:
        """Refresh this node's heartbeat. "lost": its row was gone (the reaper took it
        for dead) and is written again; "taken": another start of the same name owns it."""

        def work(session: Session) -> Heartbeat:
            now = self._now()
            updated = session.execute(
                update(Node)
                .where(Node.name == name, Node.instance == instance)
                .values(heartbeat_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(updated):
                return "alive"
            if session.scalar(select(Node.name).where(Node.name == name)) is not None:
                return "taken"
            session.execute(
                insert(Node).values(
                    name=name, instance=instance, kind=kind, started_at=now, heartbeat_at=now
                )
            )
            return "lost"

        return await self._transact("refresh the node's heartbeat", work)

    async def leave_node(self, name: str, instance: str) -> None:
        """Remove this node's row (a clean stop: nothing of it is left running)."""

        def work(session: Session) -> None:
            session.execute(delete(Node).where(Node.name == name, Node.instance == instance))

        await self._transact("unregister the node", work)

    async def list_nodes(self) -> list[NodeRecord]:
        def work(session: Session) -> list[NodeRecord]:
            return [_node_record(n) for n in session.scalars(select(Node).order_by(Node.name))]

        return await self._transact("list the nodes", work)

    async def reap(
        self,
        *,
        node_timeout: float,
        deadlines: dict[str, float],
        lost: Callable[[str], bytes],
        overdue: Callable[[str], bytes],
    ) -> Reaped:
        """One pass of the reaper (skipped while another node's runs): nodes silent for
        more than ``node_timeout`` seconds lose their runs (``lost(id)`` is each one's
        error document); runs of a mode running for longer than ``deadlines[mode] +
        node_timeout`` are closed as timed out (``overdue(id)``), wherever they run."""

        def work(session: Session) -> Reaped:
            reaped = Reaped()
            if session.get_bind().dialect.name == "postgresql":
                locked = session.scalar(select(func.pg_try_advisory_xact_lock(_REAPER_LOCK_KEY)))
                if not locked:
                    return reaped  # another node is reaping now
            now = self._now()
            silent_since = now - dt.timedelta(seconds=node_timeout)
            reaped.nodes = list(
                session.scalars(select(Node.name).where(Node.heartbeat_at < silent_since)).all()
            )
            if reaped.nodes:
                reaped.lost = self._fail_running(
                    session,
                    Execution.node.in_(reaped.nodes),
                    status=500,
                    reason="node-lost",
                    content=lost,
                )
                session.execute(delete(Node).where(Node.name.in_(reaped.nodes)))
            late = [
                and_(
                    Execution.mode == mode,
                    Execution.started_at < now - dt.timedelta(seconds=limit + node_timeout),
                )
                for mode, limit in deadlines.items()
            ]
            if late:
                reaped.overdue = self._fail_running(
                    session, or_(*late), status=504, reason="timeout", content=overdue
                )
            running = select(Execution.id).where(Execution.state == "running")
            stray = session.execute(
                delete(Seat)
                .where(Seat.execution_id.not_in(running))
                .execution_options(synchronize_session=False)
            )
            reaped.stray_seats = _rowcount(stray)
            return reaped

        return await self._transact("reap the runs of lost nodes", work)

    def listen_queue(
        self,
        wake: Callable[[], None],
        stop: threading.Event,
        events: Callable[[str], None] | None = None,
    ) -> bool:
        """Call ``wake()`` whenever a node says a background run may start, and
        ``events(execution_id)`` when one says a run has new live events or has ended,
        until ``stop`` is set (PostgreSQL's LISTEN, on a connection of its own; run it in
        a thread of its own). False at once on SQLite, which has no such thing."""
        if self._engine.dialect.name != "postgresql":
            return False
        failing = False
        while not stop.is_set():
            try:
                with self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.exec_driver_sql(f"LISTEN {QUEUE_CHANNEL}")
                    if events is not None:
                        connection.exec_driver_sql(f"LISTEN {EVENTS_CHANNEL}")
                    raw: Any = connection.connection.driver_connection
                    if failing:
                        log.info("Listening to the queue's notifications again")
                        failing = False
                    wake()  # whatever was said while this node was not listening
                    try:
                        while not stop.is_set():
                            for notice in raw.notifies(timeout=0.5):
                                if notice.channel == EVENTS_CHANNEL:
                                    if events is not None:
                                        events(notice.payload)
                                else:
                                    wake()
                    finally:
                        connection.exec_driver_sql("UNLISTEN *")
            except Exception as exc:
                if not failing:
                    log.warning(
                        "Cannot listen to the queue's notifications (%s); polling only "
                        "until it can",
                        exc,
                    )
                    failing = True
                stop.wait(2.0)
        return True


def _node_record(node: Node) -> NodeRecord:
    return NodeRecord(
        name=node.name,
        instance=node.instance,
        kind=node.kind,
        started_at=node.started_at,
        heartbeat_at=node.heartbeat_at,
    )
