"""A run's webhook deliveries, written in the transaction that records its end (the
outbox: a run whose end is stored has its deliveries stored, whatever happens next)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import webhooks
from .models import Delivery, Execution, Script


def _targets(mode: str, state: str, callback: str | None, hook: str | None) -> list[str]:
    """Where the end of a run is POSTed: its per-call callback (any end, any mode), then
    the script's webhook if it asks for this end and this mode; each URL once."""
    urls = [callback] if callback else []
    spec = webhooks.WebhookSpec.from_json(hook)
    if spec is not None and state in spec.events and (mode == "background" or spec.sync):
        urls.append(spec.url)
    return list(dict.fromkeys(urls))


@dataclass(frozen=True)
class EndedRun:
    """What a run's deliveries are made of: its row's columns and its script's webhook."""

    id: str
    script_id: str
    tenant: str
    version: int
    mode: str
    state: str
    status_code: int | None
    reason: str | None
    duration_ms: float | None
    finished_at: dt.datetime | None
    callback: str | None
    webhook: str | None


def queue_deliveries(
    session: Session,
    execution_ids: Iterable[str],
    now: dt.datetime,
    rules: webhooks.DeliveryRules,
) -> int:
    """Write the deliveries of these executions' ends, due now; how many."""
    ids = list(execution_ids)
    if not ids:
        return 0
    rows = session.execute(
        select(
            Execution.id,
            Execution.script_id,
            Execution.tenant,
            Execution.version,
            Execution.mode,
            Execution.state,
            Execution.status_code,
            Execution.reason,
            Execution.duration_ms,
            Execution.finished_at,
            Execution.callback,
            Script.webhook,
        )
        .join(Script, Script.id == Execution.script_id)
        .where(Execution.id.in_(ids))
    ).all()
    return write_deliveries(session, [EndedRun(**row._asdict()) for row in rows], now, rules)


def write_deliveries(
    session: Session, runs: Iterable[EndedRun], now: dt.datetime, rules: webhooks.DeliveryRules
) -> int:
    """Write the deliveries of these ended runs (read by the caller), due now; how many."""
    written = 0
    for row in runs:
        urls = _targets(row.mode, row.state, row.callback, row.webhook)
        if not urls:
            continue
        body = webhooks.payload(
            event=row.state,
            execution_id=row.id,
            script_id=row.script_id,
            version=row.version,
            mode=row.mode,
            status_code=row.status_code,
            reason=row.reason,
            duration_ms=None if row.duration_ms is None else round(row.duration_ms, 1),
            finished_at=row.finished_at,
            log_url=rules.log_url(row.script_id, row.id),
        )
        for url in urls:
            session.add(
                Delivery(
                    id=str(uuid.uuid4()),
                    tenant=row.tenant,
                    script_id=row.script_id,
                    execution_id=row.id,
                    url=url,
                    event=row.state,
                    payload=body,
                    state="pending",
                    attempts=0,
                    next_at=now,
                    give_up_at=now + rules.retry_for,
                    created_at=now,
                    updated_at=now,
                )
            )
            written += 1
    if written:
        session.flush()
    return written
