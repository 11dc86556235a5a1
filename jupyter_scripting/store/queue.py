"""The background queue: queued executions taken by a node with a free seat."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..execution.queue import TenantQueue, next_in_line
from ..variables import names_from_json
from .database import (
    _EXECUTION_COLUMNS,
    Database,
    _as_utc,
    _execution_record,
    _rowcount,
)
from .models import Execution, Script, ScriptVersion
from .records import ClaimedRun
from .seats import BACKGROUND, SeatsTaken, count_held, take_seat

#: Claims tried in a row when other nodes take the chosen run first.
_ATTEMPTS = 5


class _TakenElsewhere(Exception):
    """Another node claimed the chosen run between the choice and the claim."""


class BackgroundQueue(Database):
    """Claims the next queued run (fairly between tenants) and counts the queue."""

    async def claim_background_run(self, node: str, max_running: int) -> ClaimedRun | None:
        """Take the next queued background run for ``node``, or None.

        None when nothing is queued or all ``max_running`` seats of the background runs
        are held (across every node sharing the database). The next run is the oldest
        queued one of the tenant :func:`~jupyter_scripting.execution.queue.next_in_line`
        chooses (the queue's fairness). The claim is a conditional UPDATE (two nodes never
        take the same run) and takes a background seat in the same transaction; a node
        that loses the race for the run asks again.
        """

        def work(session: Session) -> ClaimedRun | None:
            if count_held(session, BACKGROUND) >= max_running:
                return None
            running = dict(
                session.execute(
                    select(Execution.tenant, func.count())
                    .where(Execution.state == "running", Execution.mode == "background")
                    .group_by(Execution.tenant)
                ).all()
            )
            now = self._now()
            # A retry waits for its back-off (README, "Retries").
            due = or_(Execution.not_before.is_(None), Execution.not_before <= now)
            oldest = dict(
                session.execute(
                    select(Execution.tenant, func.min(Execution.seq))
                    .where(Execution.state == "queued", Execution.mode == "background", due)
                    .group_by(Execution.tenant)
                ).all()
            )
            if not oldest:
                return None
            last_start = dict(
                session.execute(
                    select(Execution.tenant, func.max(Execution.started_at))
                    .where(Execution.mode == "background", Execution.tenant.in_(list(oldest)))
                    .group_by(Execution.tenant)
                ).all()
            )
            queues = []
            for tenant, oldest_seq in oldest.items():
                started = last_start.get(tenant)
                last = _as_utc(started) if started is not None else None
                queues.append(TenantQueue(tenant, oldest_seq, running.get(tenant, 0), last))
            chosen = next_in_line(queues)
            assert chosen is not None
            seq = chosen.oldest
            claimed = session.execute(
                update(Execution)
                .where(Execution.seq == seq, Execution.state == "queued")
                .values(state="running", started_at=now, node=node)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(claimed) == 0:
                raise _TakenElsewhere  # another node took it first: ask again
            row = session.execute(
                select(*_EXECUTION_COLUMNS, Execution.request).where(Execution.seq == seq)
            ).one()
            if (
                take_seat(session, BACKGROUND, max_running, execution_id=row.id, node=node, now=now)
                is None
            ):
                raise SeatsTaken(BACKGROUND, max_running)  # the claim is rolled back
            script_timeout, script_parameters, script_variables, notebook = session.execute(
                select(Script.timeout, Script.parameters, Script.variables, ScriptVersion.notebook)
                .join(ScriptVersion, ScriptVersion.script_id == Script.id)
                .where(Script.id == row.script_id, ScriptVersion.version == row.version)
            ).one()
            return ClaimedRun(
                _execution_record(row),
                bytes(row.request or b""),
                notebook,
                script_timeout,
                script_parameters,
                names_from_json(script_variables),
            )

        for _ in range(_ATTEMPTS):
            try:
                return await self._transact("take a run from the queue", work)
            except _TakenElsewhere:
                continue
            except SeatsTaken:
                return None
        return None  # so many nodes racing: the next wake or poll asks again

    async def count_background(self) -> tuple[int, int]:
        """(queued, running) background runs across the service."""

        def work(session: Session) -> tuple[int, int]:
            counts = dict(
                session.execute(
                    select(Execution.state, func.count())
                    .where(
                        Execution.mode == "background", Execution.state.in_(("queued", "running"))
                    )
                    .group_by(Execution.state)
                ).all()
            )
            return counts.get("queued", 0), counts.get("running", 0)

        return await self._transact("count the background runs", work)
