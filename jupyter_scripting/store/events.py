"""Live events of runs (README, "Live output"): rows of ``execution_events``, and on
PostgreSQL a notification to every node when a run's events or result are written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from .models import ExecutionEvent
from .records import EventRecord

#: PostgreSQL's channel for "execution <payload> has new events or has ended".
EVENTS_CHANNEL = "jupyter_scripting_events"


def insert_events(
    session: Session, execution_id: str, events: Sequence[EventRecord], now: dt.datetime
) -> None:
    """Add ``events`` to the run's rows (one INSERT) and say so to the other nodes."""
    if events:
        session.execute(
            insert(ExecutionEvent),
            [
                {
                    "execution_id": execution_id,
                    "seq": event.seq,
                    "kind": event.kind,
                    "data": event.data,
                    "created_at": now,
                }
                for event in events
            ],
        )
    notify_events(session, execution_id)


def notify_events(session: Session, execution_id: str) -> None:
    """Tell every node listening that the run has something new (delivered when the
    transaction commits; nothing on SQLite, whose one node tells itself)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(EVENTS_CHANNEL, execution_id)))
