"""The execution log: every run's record, its answer and executed notebook, and its pruning."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from .. import rules
from ..errors import (
    BadRequest,
    ExecutionNotFound,
    ScriptNotFound,
    VersionNotFound,
)
from ..retries import RetrySpec
from .database import (
    _DONE_STATES,
    _EXECUTION_COLUMNS,
    _MODES,
    _OPEN_STATES,
    _SHORT_LENGTH,
    _STATES,
    _TEXT_LENGTH,
    Database,
    _as_utc,
    _execution_record,
    _is_int,
    _rowcount,
    _script_record,
    _truncate,
)
from .events import insert_events
from .models import Execution, ExecutionEvent, Script, ScriptVersion, Seat
from .outbox import EndedRun, write_deliveries
from .records import (
    EventRecord,
    ExecutionRecord,
    ExecutionResult,
    Mode,
    ScriptRecord,
    State,
)
from .seats import BACKGROUND, SeatsTaken, free_seats, notify_queue, take_seat


@dataclass(frozen=True)
class _NewExecution:
    """What ``create_execution`` and ``log_run`` log of a new run (see there)."""

    execution_id: str
    tenant: str
    mode: Mode
    method: str
    state: State
    request: bytes | None
    node: str | None
    seat: tuple[str, int] | None
    #: The per-call webhook (``X-Scripting-Callback``), checked by the service.
    callback: str | None = None

    def check(self, script_id: str) -> None:
        """Raise as ``create_execution`` says for ids and values it refuses."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not rules.is_uuid(self.execution_id):
            raise ValueError(f"execution_id must be a canonical UUID, not {self.execution_id!r}.")
        if self.mode not in _MODES:
            raise ValueError(f"Unknown execution mode {self.mode!r}.")
        if self.state not in _STATES:
            raise ValueError(f"Unknown execution state {self.state!r}.")
        if not isinstance(self.method, str) or not 0 < len(self.method) <= _SHORT_LENGTH:
            raise ValueError(f"Bad HTTP method {self.method!r}.")


class _VersionNotebooks:
    """The notebooks of versions read before (a version never changes; its script's row,
    read in the same transaction, says whether it still exists). Bounded by the texts'
    total size, least recently used first out."""

    def __init__(self, max_chars: int = 32 * 2**20) -> None:
        self.max_chars = max_chars
        self._texts: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()  # the store's threads share it

    def get(self, key: tuple[str, int]) -> str | None:
        with self._lock:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
            return text

    def put(self, key: tuple[str, int], text: str) -> None:
        if len(text) > self.max_chars:
            return
        with self._lock:
            if key in self._texts:
                return
            self._texts[key] = text
            self._chars += len(text)
            while self._chars > self.max_chars:
                _, old = self._texts.popitem(last=False)
                self._chars -= len(old)


class ExecutionLog(Database):
    """Executions: logged, finished, listed, read, closed after a crash, pruned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._notebooks = _VersionNotebooks()

    async def create_execution(
        self,
        *,
        execution_id: str,
        tenant: str,
        script_id: str,
        version: int,
        mode: Mode,
        method: str,
        state: State = "running",
        request: bytes | None = None,
        node: str | None = None,
        seat: tuple[str, int] | None = None,
    ) -> ExecutionRecord:
        """Log a new run of ``version`` of the script, created (and started if
        ``state`` is ``running``) now. ``request`` is kept for a queued run until it
        ends; ``node`` names the server running it. ``seat=(scope, slots)`` takes a seat
        of that limit in the same transaction (:mod:`.seats`), or raises ``SeatsTaken``
        and logs nothing.

        ``ScriptNotFound``/``VersionNotFound`` when there is no such script or version
        for the tenant; ``ValueError`` for an ``execution_id`` that is not a canonical
        UUID or an unknown ``mode``/``state``.
        """
        new = _NewExecution(execution_id, tenant, mode, method, state, request, node, seat)
        new.check(script_id)

        def work(session: Session) -> ExecutionRecord:
            script = self._script(session, tenant, script_id)
            # Versions are numbered 1..latest and never deleted one by one.
            if not _is_int(version) or not 1 <= version <= script.latest_version:
                raise VersionNotFound(script_id, version)
            return self._log_execution(session, script.id, version, new)

        return await self._transact("log the execution", work)

    async def log_run(
        self,
        *,
        execution_id: str,
        tenant: str,
        script_id: str,
        mode: Mode,
        method: str,
        state: State = "running",
        request: bytes | None = None,
        node: str | None = None,
        seat: tuple[str, int] | None = None,
        with_notebook: bool = False,
        check: Callable[[ScriptRecord, str], None] | None = None,
        callback: str | None = None,
    ) -> tuple[ScriptRecord, ExecutionRecord, str | None]:
        """``create_execution`` for the script's latest version, read in the same
        transaction: (the script, its execution, the version's notebook if
        ``with_notebook``); ``callback`` is where its end is POSTed besides the script's
        webhook. One transaction where ``get_notebook`` then
        ``create_execution`` took two (a run's path has one before it, one after).

        ``check(script, notebook)`` (with ``with_notebook``) may refuse the run before it
        is logged: what it raises rolls the transaction back and reaches the caller."""
        new = _NewExecution(
            execution_id, tenant, mode, method, state, request, node, seat, callback
        )
        new.check(script_id)

        def work(session: Session) -> tuple[ScriptRecord, ExecutionRecord, str | None]:
            script = self._script(session, tenant, script_id)
            version = script.latest_version
            notebook = None
            if with_notebook:
                notebook = self._notebooks.get((script.id, version))
            if with_notebook and notebook is None:
                notebook = session.scalar(
                    select(ScriptVersion.notebook).where(
                        ScriptVersion.script_id == script_id, ScriptVersion.version == version
                    )
                )
                if notebook is None:
                    raise VersionNotFound(script_id, version)
                self._notebooks.put((script.id, version), notebook)
            record = _script_record(script)
            if check is not None and notebook is not None:
                check(record, notebook)
            execution = self._log_execution(session, script.id, version, new)
            return record, execution, notebook

        return await self._transact("log the execution", work)

    def _log_execution(
        self, session: Session, script_id: str, version: int, new: _NewExecution
    ) -> ExecutionRecord:
        now = self._now()
        execution = Execution(
            id=new.execution_id,
            script_id=script_id,
            version=version,
            tenant=new.tenant,
            mode=new.mode,
            method=new.method,
            state=new.state,
            created_at=now,
            started_at=now if new.state == "running" else None,
            request=new.request,
            node=new.node,
            callback=new.callback,
        )
        session.add(execution)
        session.flush()
        if new.seat is not None:
            scope, slots = new.seat
            taken = take_seat(
                session, scope, slots, execution_id=new.execution_id, node=new.node or "", now=now
            )
            if taken is None:
                raise SeatsTaken(scope, slots)  # the transaction is rolled back
        if new.state == "queued":
            notify_queue(session)
        return _execution_record(execution)

    async def finish_execution(
        self,
        execution_id: str,
        result: ExecutionResult,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        """Store the outcome of a run with its last live ``events`` and give back its
        seats (``ExecutionNotFound`` if it is not logged). False, storing nothing, when
        the run was closed already: the reaper recorded it ``node-lost`` while this node
        was taken for dead."""
        if not rules.is_uuid(execution_id):
            raise ExecutionNotFound(execution_id)
        if result.state not in _STATES:
            raise ValueError(f"Unknown execution state {result.state!r}.")
        now = self._now()
        reason = _truncate(result.reason, _TEXT_LENGTH)
        queued = 0

        def work(session: Session) -> bool:
            nonlocal queued
            # Read before the update drops it: what a retry of this run needs.
            before = session.execute(
                select(
                    Execution.mode,
                    Execution.attempt,
                    Execution.retry_of,
                    Execution.request,
                    Execution.script_id,
                    Execution.version,
                    Execution.tenant,
                    Execution.method,
                    Execution.callback,
                    Script.retries,
                    Script.webhook,
                )
                .join(Script, Script.id == Execution.script_id)
                .where(Execution.id == execution_id)
            ).one_or_none()
            updated = session.execute(
                update(Execution)
                .where(Execution.id == execution_id, Execution.state.in_(_OPEN_STATES))
                .values(
                    state=result.state,
                    status_code=result.status_code,
                    reason=reason,
                    content_type=_truncate(result.content_type, _TEXT_LENGTH),
                    content=bytes(result.content),
                    notebook=result.notebook,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                    duration_ms=result.duration_ms,
                    request=None,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(updated) == 0:
                known = session.scalar(select(Execution.seq).where(Execution.id == execution_id))
                if known is None:
                    raise ExecutionNotFound(execution_id)
                return False
            insert_events(session, execution_id, events, now)
            assert before is not None
            if not self._queue_retry(session, execution_id, before, result, now):
                # Only the last attempt's end is POSTed (README, "Retries"); what the
                # deliveries say was read above or is being written (no query again).
                ended = EndedRun(
                    id=execution_id,
                    script_id=before.script_id,
                    tenant=before.tenant,
                    version=before.version,
                    mode=before.mode,
                    state=result.state,
                    status_code=result.status_code,
                    reason=reason,
                    duration_ms=result.duration_ms,
                    finished_at=result.finished_at,
                    callback=before.callback,
                    webhook=before.webhook,
                )
                queued = write_deliveries(session, [ended], now, self.delivery_rules)
            if BACKGROUND in free_seats(session, [execution_id]):
                notify_queue(session)
            return True

        stored = await self._transact("store the result of the execution", work)
        if queued and self.on_deliveries is not None:
            self.on_deliveries()
        return stored

    def _queue_retry(
        self,
        session: Session,
        execution_id: str,
        before: Any,
        result: ExecutionResult,
        now: dt.datetime,
    ) -> bool:
        """Queue the next attempt of a background run whose script retries its status
        (in the transaction that records its end); whether one was queued."""
        spec = RetrySpec.from_json(before.retries)
        if spec is None or before.mode != "background":
            return False
        attempt = before.attempt or 1
        due = spec.next_attempt(attempt, result.status_code, now)
        if due is None:
            return False
        next_id = str(uuid.uuid4())
        session.add(
            Execution(
                id=next_id,
                script_id=before.script_id,
                version=before.version,
                tenant=before.tenant,
                mode="background",
                method=before.method,
                state="queued",
                created_at=now,
                request=before.request,
                callback=before.callback,
                attempt=attempt + 1,
                retry_of=before.retry_of or execution_id,
                not_before=due,
            )
        )
        session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(retried_by=next_id)
            .execution_options(synchronize_session=False)
        )
        notify_queue(session)
        return True

    async def mark_interrupted(self, node: str, content: Callable[[str], bytes]) -> int:
        """Mark the runs ``node`` was executing as failed (500, reason ``interrupted``)
        and give back every seat it held: after a crash nothing else will ever finish
        them. ``content(execution_id)`` is the error document each gets. Returns how
        many were marked."""

        def work(session: Session) -> int:
            ids = self._fail_running(
                session,
                or_(Execution.node == node, Execution.node.is_(None)),
                status=500,
                reason="interrupted",
                content=content,
            )
            session.execute(delete(Seat).where(Seat.node == node))
            return len(ids)

        return await self._transact("mark interrupted runs", work)

    async def list_executions(
        self,
        tenant: str,
        script_id: str,
        *,
        version: int | Literal["all"] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ExecutionRecord], bool]:
        """Newest first (ties broken by insertion order); ``version=None`` is the latest."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not (version is None or version == "all" or _is_int(version)):
            raise BadRequest('The version must be an integer or "all".')
        rules.page(limit, offset)

        def work(session: Session) -> tuple[list[ExecutionRecord], bool]:
            script = self._script(session, tenant, script_id)
            conditions: list[ColumnElement[bool]] = [
                Execution.script_id == script_id,
                Execution.tenant == tenant,
            ]
            if version is None:
                conditions.append(Execution.version == script.latest_version)
            elif version != "all":
                exists = session.scalar(
                    select(ScriptVersion.version).where(
                        ScriptVersion.script_id == script_id, ScriptVersion.version == version
                    )
                )
                if exists is None:
                    raise VersionNotFound(script_id, version)
                conditions.append(Execution.version == version)
            stmt = (
                select(*_EXECUTION_COLUMNS)
                .where(*conditions)
                .order_by(Execution.created_at.desc(), Execution.seq.desc())
                .limit(limit + 1)
                .offset(offset)
            )
            rows = session.execute(stmt).all()
            return [_execution_record(row) for row in rows[:limit]], len(rows) > limit

        return await self._transact("list the executions", work)

    def _execution_row(
        self, session: Session, tenant: str, script_id: str, execution_id: str, extra: Any
    ) -> Any:
        self._script(session, tenant, script_id)
        row = session.execute(
            select(*_EXECUTION_COLUMNS, extra).where(
                Execution.id == execution_id,
                Execution.script_id == script_id,
                Execution.tenant == tenant,
            )
        ).one_or_none()
        if row is None:
            raise ExecutionNotFound(execution_id)
        return row

    @staticmethod
    def _check_ids(script_id: str, execution_id: str) -> None:
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not rules.is_uuid(execution_id):
            raise ExecutionNotFound(execution_id)

    async def get_execution(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, bytes]:
        """The record and its stored content."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> tuple[ExecutionRecord, bytes]:
            row = self._execution_row(session, tenant, script_id, execution_id, Execution.content)
            return _execution_record(row), bytes(row.content or b"")

        return await self._transact("read the execution", work)

    async def append_events(self, execution_id: str, events: Sequence[EventRecord]) -> None:
        """Store a batch of a running execution's live events (``ExecutionNotFound`` if
        it is not logged)."""
        if not rules.is_uuid(execution_id):
            raise ExecutionNotFound(execution_id)
        if not events:
            return
        now = self._now()

        def work(session: Session) -> None:
            insert_events(session, execution_id, events, now)

        await self._transact("store the live events of the execution", work)

    async def read_events(
        self, tenant: str, script_id: str, execution_id: str, *, after: int, limit: int
    ) -> tuple[ExecutionRecord, bytes | None, list[EventRecord]]:
        """The record, its content once it has ended (else None), and up to ``limit`` of
        its live events after number ``after``, read together: a run seen ended has all
        its events written."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> tuple[ExecutionRecord, bytes | None, list[EventRecord]]:
            row = self._execution_row(session, tenant, script_id, execution_id, Execution.content)
            events = [
                EventRecord(seq=seq, kind=kind, data=data)
                for seq, kind, data in session.execute(
                    select(ExecutionEvent.seq, ExecutionEvent.kind, ExecutionEvent.data)
                    .where(ExecutionEvent.execution_id == execution_id, ExecutionEvent.seq > after)
                    .order_by(ExecutionEvent.seq)
                    .limit(limit)
                )
            ]
            ended = row.state in _DONE_STATES
            return _execution_record(row), bytes(row.content or b"") if ended else None, events

        return await self._transact("read the live events of the execution", work)

    async def get_execution_notebook(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, str | None]:
        """The record and the executed notebook (``None`` until the run has finished)."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> tuple[ExecutionRecord, str | None]:
            row = self._execution_row(session, tenant, script_id, execution_id, Execution.notebook)
            return _execution_record(row), row.notebook

        return await self._transact("read the notebook of the execution", work)

    async def prune_executions(
        self, *, older_than: dt.datetime | None, keep_per_script: int | None
    ) -> int:
        """Delete finished/failed executions older than ``older_than`` and beyond the
        newest ``keep_per_script`` of each script; returns how many were deleted."""
        if keep_per_script is not None and (not _is_int(keep_per_script) or keep_per_script < 0):
            raise ValueError("keep_per_script must be a non-negative integer or None.")
        if older_than is None and keep_per_script is None:
            return 0

        def work(session: Session) -> int:
            conditions: list[ColumnElement[bool]] = []
            if older_than is not None:
                conditions.append(Execution.created_at < _as_utc(older_than))
            if keep_per_script is not None:
                # Rank each script's finished/failed runs, newest first (portable:
                # SQLite >= 3.25 and PostgreSQL both have window functions).
                ranked = (
                    select(
                        Execution.seq,
                        func.row_number()
                        .over(
                            partition_by=Execution.script_id,
                            order_by=(Execution.created_at.desc(), Execution.seq.desc()),
                        )
                        .label("rank"),
                    )
                    .where(Execution.state.in_(_DONE_STATES))
                    .subquery()
                )
                conditions.append(
                    Execution.seq.in_(select(ranked.c.seq).where(ranked.c.rank > keep_per_script))
                )
            result = session.execute(
                delete(Execution).where(Execution.state.in_(_DONE_STATES), or_(*conditions)),
                execution_options={"synchronize_session": False},
            )
            return _rowcount(result)

        return await self._transact("prune the executions", work)
