"""The seats of the run limits: one row per running execution that counts towards a
limit, so that a limit holds exactly across every node sharing the database.

A limit of ``n`` has the slots ``0..n-1`` of its scope (``background``, or
``sync:<tenant>``). A run takes a free slot with an ``INSERT … ON CONFLICT DO NOTHING``
in the same transaction that marks it running, and gives it back in the transaction that
records its end (or the reaper's, for a node that died). Two transactions racing for the
last slot both try to insert the same primary key: PostgreSQL makes the second wait for
the first and then skip it, SQLite lets one writer in at a time; either way one of them
gets no seat. There is no counter a crash could leave wrong: what holds a seat is a row
naming its execution and its node.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Seat

#: The scope of the background runs' limit (ScriptingApp.max_background_runs).
BACKGROUND = "background"
#: The PostgreSQL channel a node is told on when a background run may start: one was
#: queued, or a background seat was given back.
QUEUE_CHANNEL = "jupyter_scripting_queue"


def sync_scope(tenant: str) -> str:
    """The scope of one tenant's synchronous runs (ScriptingApp.max_sync_runs_per_tenant)."""
    return f"sync:{tenant}"


class SeatsTaken(Exception):
    """Every slot of the scope is held: the run must wait (background) or be refused
    (synchronous, 429)."""

    def __init__(self, scope: str, slots: int) -> None:
        super().__init__(f"All {slots} seats of {scope!r} are taken.")
        self.scope = scope
        self.slots = slots


def take_seat(
    session: Session, scope: str, slots: int, *, execution_id: str, node: str, now: dt.datetime
) -> int | None:
    """Take a free slot of ``scope`` (``0..slots-1``) for the execution; the slot, or None
    when all are held (counting the inserts of transactions not yet committed: a
    conflicting insert waits for them)."""
    held = set(session.scalars(select(Seat.slot).where(Seat.scope == scope)).all())
    if len(held) >= slots:
        return None
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for slot in range(slots):
        if slot in held:
            continue
        taken = session.execute(
            insert(Seat)
            .values(scope=scope, slot=slot, execution_id=execution_id, node=node, taken_at=now)
            .on_conflict_do_nothing(index_elements=[Seat.scope, Seat.slot])
            .returning(Seat.slot)
        ).scalar_one_or_none()
        if taken is not None:
            return int(taken)
    return None


def free_seats(session: Session, execution_ids: list[str]) -> set[str]:
    """Give back the seats of these executions; the scopes that got a seat back."""
    if not execution_ids:
        return set()
    freed = session.scalars(
        delete(Seat).where(Seat.execution_id.in_(execution_ids)).returning(Seat.scope)
    ).all()
    return set(freed)


def count_held(session: Session, scope: str) -> int:
    """How many seats of ``scope`` are held now."""
    return int(session.scalar(select(func.count()).where(Seat.scope == scope)) or 0)


def notify_queue(session: Session) -> None:
    """Tell every node listening that a background run may start (PostgreSQL: delivered
    when the transaction commits; nothing on SQLite, whose one node wakes itself)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(QUEUE_CHANNEL, "")))
