"""Schedules: written per script, and fired when due, exactly once per tick however many
nodes share the store (README, "Schedules")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import rules, schedules
from ..errors import ScheduleNotFound, ScriptNotFound
from ..schedules import ScheduleSpec
from .database import _as_utc, _rowcount
from .executions import ExecutionLog, _NewExecution
from .models import Schedule, Script
from .records import FiredTick, ScheduleRecord

_T = TypeVar("_T")
#: Due schedules fired per round (the rest in the next).
FIRE_BATCH = 50


def _record(row: Schedule) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id,
        tenant=row.tenant,
        script_id=row.script_id,
        cron=row.cron,
        timezone=row.timezone,
        body=row.body,
        enabled=row.enabled,
        catch_up=row.catch_up,
        next_at=None if row.next_at is None else _as_utc(row.next_at),
        last_tick_at=None if row.last_tick_at is None else _as_utc(row.last_tick_at),
        last_execution_id=row.last_execution_id,
        created_at=_as_utc(row.created_at),
        updated_at=_as_utc(row.updated_at),
    )


def spec_of(record: ScheduleRecord) -> ScheduleSpec:
    """A stored schedule's settings (to apply a PATCH over)."""
    catch_up: schedules.CatchUp = "once" if record.catch_up == "once" else "skip"
    return ScheduleSpec(record.cron, record.timezone, record.body, record.enabled, catch_up)


class ScheduleStore(ExecutionLog):
    """The schedules of every tenant's scripts (a tick's run goes into the execution log)."""

    def _schedule(
        self, session: Session, tenant: str, script_id: str, schedule_id: str
    ) -> Schedule:
        if not rules.is_uuid(schedule_id):
            raise ScheduleNotFound(schedule_id)
        row = session.scalars(
            select(Schedule).where(
                Schedule.id == schedule_id,
                Schedule.script_id == script_id,
                Schedule.tenant == tenant,
            )
        ).one_or_none()
        if row is None:
            raise ScheduleNotFound(schedule_id)
        return row

    async def _of_script(
        self, tenant: str, script_id: str, what: str, fn: Callable[[Session], _T]
    ) -> _T:
        """``fn(session)`` in one transaction, once the tenant's script is known to exist
        (``ScriptNotFound`` first: a schedule of no script is the script's 404)."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)

        def work(session: Session) -> _T:
            self._script(session, tenant, script_id)
            return fn(session)

        return await self._transact(what, work)

    def _next_at(self, spec: ScheduleSpec) -> dt.datetime | None:
        return schedules.next_tick(spec.cron, spec.timezone, self._now()) if spec.enabled else None

    async def create_schedule(
        self, tenant: str, script_id: str, spec: ScheduleSpec
    ) -> ScheduleRecord:
        """A new schedule of the script; its first tick is the next one from now."""

        def work(session: Session) -> ScheduleRecord:
            now = self._now()
            row = Schedule(
                id=str(uuid.uuid4()),
                tenant=tenant,
                script_id=script_id,
                **schedules.as_mapping(spec),
                next_at=self._next_at(spec),
                last_tick_at=None,
                last_execution_id=None,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _record(row)

        return await self._of_script(tenant, script_id, "create the schedule", work)

    async def list_schedules(self, tenant: str, script_id: str) -> list[ScheduleRecord]:
        """The script's schedules, oldest first."""

        def work(session: Session) -> list[ScheduleRecord]:
            rows = session.scalars(
                select(Schedule)
                .where(Schedule.script_id == script_id, Schedule.tenant == tenant)
                .order_by(Schedule.created_at, Schedule.id)
            )
            return [_record(row) for row in rows]

        return await self._of_script(tenant, script_id, "list the schedules", work)

    async def get_schedule(self, tenant: str, script_id: str, schedule_id: str) -> ScheduleRecord:
        def work(session: Session) -> ScheduleRecord:
            return _record(self._schedule(session, tenant, script_id, schedule_id))

        return await self._of_script(tenant, script_id, "read the schedule", work)

    async def update_schedule(
        self, tenant: str, script_id: str, schedule_id: str, spec: ScheduleSpec
    ) -> ScheduleRecord:
        """New settings; the next tick is counted again from now."""

        def work(session: Session) -> ScheduleRecord:
            row = self._schedule(session, tenant, script_id, schedule_id)
            for column, value in schedules.as_mapping(spec).items():
                setattr(row, column, value)
            row.next_at = self._next_at(spec)
            row.updated_at = self._now()
            session.flush()
            return _record(row)

        return await self._of_script(tenant, script_id, "change the schedule", work)

    async def delete_schedule(self, tenant: str, script_id: str, schedule_id: str) -> None:
        def work(session: Session) -> None:
            session.delete(self._schedule(session, tenant, script_id, schedule_id))

        await self._of_script(tenant, script_id, "delete the schedule", work)

    async def next_schedules(self, tenant: str, script_ids: list[str]) -> dict[str, ScheduleRecord]:
        """Each script's enabled schedule that ticks soonest (scripts without one left out)."""
        if not script_ids:
            return {}

        def work(session: Session) -> dict[str, ScheduleRecord]:
            rows = session.scalars(
                select(Schedule)
                .where(
                    Schedule.tenant == tenant,
                    Schedule.script_id.in_(script_ids),
                    Schedule.enabled.is_(True),
                    Schedule.next_at.is_not(None),
                )
                .order_by(Schedule.next_at.desc(), Schedule.id)
            )
            return {row.script_id: _record(row) for row in rows}  # the soonest last, kept

        return await self._transact("read the scripts' next schedules", work)

    async def next_schedule_due(self) -> dt.datetime | None:
        """The soonest tick of any enabled schedule (None: there is none)."""

        def work(session: Session) -> dt.datetime | None:
            soonest = session.scalar(
                select(func.min(Schedule.next_at)).where(Schedule.enabled.is_(True))
            )
            return None if soonest is None else _as_utc(soonest)

        return await self._transact("read the next schedule's tick", work)

    async def fire_due_schedules(
        self,
        request_of: Callable[[ScheduleRecord], bytes],
        *,
        grace: dt.timedelta = schedules.GRACE,
    ) -> list[FiredTick]:
        """Queue the runs of the schedules due now (each with the queued request
        ``request_of`` makes); what was fired.

        Each due schedule's ``next_at`` moves forward in a conditional UPDATE (``WHERE
        next_at`` is still the one read): of several nodes firing at once, one updates
        the row and queues the tick's run in the same transaction; the others find it
        moved (PostgreSQL's row lock makes them wait for that commit, then re-check) and
        fire nothing. A tick later than ``grace`` was missed: see ``schedules.plan``."""

        def work(session: Session) -> list[FiredTick]:
            now = self._now()
            due = session.execute(
                select(Schedule, Script.latest_version)
                .join(Script, Script.id == Schedule.script_id)
                .where(Schedule.enabled.is_(True), Schedule.next_at <= now)
                .order_by(Schedule.next_at)
                .limit(FIRE_BATCH)
            ).all()
            fired: list[FiredTick] = []
            for row, version in due:
                assert row.next_at is not None
                plan = schedules.plan(
                    row.cron, row.timezone, _as_utc(row.next_at), now, row.catch_up, grace
                )
                execution_id = str(uuid.uuid4()) if plan.fire else None
                values: dict[str, object] = {"next_at": plan.next_at}
                if execution_id is not None:
                    values.update(last_tick_at=plan.tick, last_execution_id=execution_id)
                moved = session.execute(
                    update(Schedule)
                    .where(Schedule.id == row.id, Schedule.next_at == row.next_at)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(moved) != 1:
                    continue  # another node fired this tick
                if execution_id is not None:
                    new = _NewExecution(
                        execution_id,
                        row.tenant,
                        "background",
                        "POST",
                        "queued",
                        request_of(_record(row)),
                        None,
                        None,
                    )
                    self._log_execution(session, row.script_id, version, new)
                fired.append(FiredTick(row.id, plan.tick, execution_id))
            return fired

        return await self._transact("fire the due schedules", work)
