"""Webhook deliveries (README, "Webhooks"): claimed by one node per attempt, recorded
attempt by attempt, listed per execution; and the tenants' signing secrets.

A delivery is written with the run's end (:mod:`.outbox`). Every node looks for due
ones; a node takes one with a conditional UPDATE of its claim (``WHERE`` the attempts and
the claim are still the ones it read), so of several nodes looking at once one sends
the attempt. A claim is a lease: if its node dies while sending, the delivery is due
again once ``claimed_until`` has passed (at least once, never lost).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .database import _TEXT_LENGTH, _as_utc, _rowcount, _truncate
from .executions import ExecutionLog
from .models import Delivery, DeliveryAttempt, Execution, SigningSecret
from .records import AttemptRecord, ClaimedDelivery, DeliveryRecord, SigningSecretRecord


def _delivery_record(row: Delivery, attempts: list[AttemptRecord]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        execution_id=row.execution_id,
        url=row.url,
        event=row.event,
        state=row.state,
        attempts=tuple(attempts),
        next_at=None if row.next_at is None else _as_utc(row.next_at),
        give_up_at=_as_utc(row.give_up_at),
        created_at=_as_utc(row.created_at),
    )


def _with_attempts(session: Session, rows: Sequence[Delivery]) -> list[DeliveryRecord]:
    """The records of ``rows`` (in their order), each with its attempts, in one query."""
    attempts: dict[str, list[AttemptRecord]] = defaultdict(list)
    if rows:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(DeliveryAttempt.attempt)
        ):
            attempts[attempt.delivery_id].append(
                AttemptRecord(
                    attempt=attempt.attempt,
                    at=_as_utc(attempt.at),
                    node=attempt.node,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
    return [_delivery_record(row, attempts[row.id]) for row in rows]


class DeliveryStore(ExecutionLog):
    """Deliveries of runs' ends to webhooks, and the secrets that sign them."""

    async def claim_deliveries(
        self, node: str, limit: int, lease: dt.timedelta
    ) -> list[ClaimedDelivery]:
        """Claim up to ``limit`` due deliveries for ``node`` for ``lease``."""

        def work(session: Session) -> list[ClaimedDelivery]:
            now = self._now()
            free = (Delivery.claimed_until.is_(None)) | (Delivery.claimed_until <= now)
            due = session.scalars(
                select(Delivery)
                .where(Delivery.state == "pending", Delivery.next_at <= now, free)
                .order_by(Delivery.next_at)
                .limit(limit)
                # PostgreSQL: nodes looking at once take different rows (SQLite has one
                # writer at a time anyway); the conditional UPDATE below decides.
                .with_for_update(skip_locked=True)
            ).all()
            claimed: list[ClaimedDelivery] = []
            for row in due:
                token = str(uuid.uuid4())
                same_claim = (
                    Delivery.claim.is_(None) if row.claim is None else Delivery.claim == row.claim
                )
                taken = session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == row.id,
                        Delivery.state == "pending",
                        Delivery.attempts == row.attempts,
                        same_claim,
                        free,
                    )
                    .values(claim=token, claimed_by=node, claimed_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(taken) != 1:
                    continue  # another node claimed it first
                claimed.append(
                    ClaimedDelivery(
                        id=row.id,
                        tenant=row.tenant,
                        execution_id=row.execution_id,
                        url=row.url,
                        event=row.event,
                        payload=row.payload,
                        attempt=row.attempts + 1,
                        claim=token,
                    )
                )
            return claimed

        return await self._transact("claim the due webhook deliveries", work)

    async def record_attempt(
        self,
        claimed: ClaimedDelivery,
        *,
        node: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        delivered: bool,
        retry_in: float,
    ) -> str | None:
        """Record an attempt of a claimed delivery and give the claim back: delivered,
        due again in ``retry_in`` seconds, or given up (failed) when that is past its
        time. The delivery's new state; None when the claim had been taken over (its
        lease ran out), so that this attempt is not recorded."""

        def work(session: Session) -> str | None:
            now = self._now()
            row = session.scalars(
                select(Delivery).where(Delivery.id == claimed.id, Delivery.claim == claimed.claim)
            ).one_or_none()
            if row is None:
                return None
            retry_at = now + dt.timedelta(seconds=retry_in)
            if delivered:
                state, next_at = "delivered", None
            elif retry_at > _as_utc(row.give_up_at):
                state, next_at = "failed", None
            else:
                state, next_at = "pending", retry_at
            changed = session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id, Delivery.claim == claimed.claim)
                .values(
                    state=state,
                    attempts=claimed.attempt,
                    next_at=next_at,
                    claim=None,
                    claimed_by=None,
                    claimed_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(changed) != 1:
                return None
            session.add(
                DeliveryAttempt(
                    delivery_id=claimed.id,
                    attempt=claimed.attempt,
                    at=now,
                    node=node,
                    status_code=status_code,
                    error=_truncate(error, _TEXT_LENGTH),
                    duration_ms=round(duration_ms, 1),
                )
            )
            return state

        return await self._transact("record the webhook delivery attempt", work)

    async def release_deliveries(self, node: str) -> int:
        """Give back the claims ``node`` holds (it stops): due again at once elsewhere."""

        def work(session: Session) -> int:
            released = session.execute(
                update(Delivery)
                .where(Delivery.claimed_by == node, Delivery.state == "pending")
                .values(claim=None, claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(released)

        return await self._transact("release the webhook deliveries", work)

    async def next_delivery_due(self) -> dt.datetime | None:
        """When the soonest pending delivery may be sent (its attempt is due and no live
        claim holds it); None: there is none."""

        def work(session: Session) -> dt.datetime | None:
            when = case(
                (Delivery.claimed_until > Delivery.next_at, Delivery.claimed_until),
                else_=Delivery.next_at,
            )
            soonest = session.scalar(select(func.min(when)).where(Delivery.state == "pending"))
            return None if soonest is None else _as_utc(soonest)

        return await self._transact("read the next webhook delivery", work)

    async def list_deliveries(
        self, tenant: str, script_id: str, execution_id: str
    ) -> list[DeliveryRecord]:
        """The deliveries of one of the tenant's executions, oldest first, with their
        attempts (``ScriptNotFound``/``ExecutionNotFound`` as for the execution)."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> list[DeliveryRecord]:
            self._execution_row(session, tenant, script_id, execution_id, Execution.seq)
            rows = session.scalars(
                select(Delivery)
                .where(Delivery.execution_id == execution_id, Delivery.tenant == tenant)
                .order_by(Delivery.created_at, Delivery.id)
            ).all()
            return _with_attempts(session, rows)

        return await self._transact("list the webhook deliveries", work)

    async def last_deliveries(
        self, tenant: str, script_ids: list[str], per_script: int = 3
    ) -> dict[str, list[DeliveryRecord]]:
        """The newest ``per_script`` deliveries (of any run) of each of ``tenant``'s
        scripts in ``script_ids`` that has one, newest first, with their attempts: two
        queries for a page of the listing."""
        if not script_ids:
            return {}

        def work(session: Session) -> dict[str, list[DeliveryRecord]]:
            rank = (
                func.row_number()
                .over(
                    partition_by=Delivery.script_id,
                    order_by=(Delivery.created_at.desc(), Delivery.id.desc()),
                )
                .label("rank")
            )
            ranked = (
                select(Delivery.id, rank)
                .where(Delivery.tenant == tenant, Delivery.script_id.in_(script_ids))
                .subquery()
            )
            rows = session.scalars(
                select(Delivery)
                .join(ranked, ranked.c.id == Delivery.id)
                .where(ranked.c.rank <= per_script)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            ).all()
            found: dict[str, list[DeliveryRecord]] = defaultdict(list)
            for row, record in zip(rows, _with_attempts(session, rows), strict=True):
                found[row.script_id].append(record)
            return dict(found)

        return await self._transact("read the scripts' last webhook deliveries", work)

    # -- signing secrets ----------------------------------------------------------
    async def get_signing_secret(self, tenant: str) -> SigningSecretRecord | None:
        def work(session: Session) -> SigningSecretRecord | None:
            row = session.get(SigningSecret, tenant)
            return None if row is None else _secret_record(row)

        return await self._transact("read the signing secret", work)

    async def put_signing_secret(
        self, tenant: str, secret: bytes, *, replace: bool
    ) -> tuple[SigningSecretRecord, bool]:
        """Store the tenant's (encrypted) secret: in place of the one it has if
        ``replace``, else only if it has none. (The secret now stored, whether it is
        the one given.)"""

        def work(session: Session) -> tuple[SigningSecretRecord, bool]:
            now = self._now()
            if replace:
                session.execute(delete(SigningSecret).where(SigningSecret.tenant == tenant))
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stored = session.execute(
                insert(SigningSecret)
                .values(tenant=tenant, secret=secret, created_at=now)
                .on_conflict_do_nothing(index_elements=[SigningSecret.tenant])
                .returning(SigningSecret.tenant)
            ).scalar_one_or_none()
            row = session.get(SigningSecret, tenant, populate_existing=True)
            assert row is not None
            return _secret_record(row), stored is not None

        return await self._transact("store the signing secret", work)


def _secret_record(row: SigningSecret) -> SigningSecretRecord:
    return SigningSecretRecord(
        tenant=row.tenant, secret=bytes(row.secret), created_at=_as_utc(row.created_at)
    )
