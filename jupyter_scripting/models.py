"""The JSON models of the API, one per record (shared by the handlers and the CLI)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from . import schedules
from .store.records import (
    ApiKeyRecord,
    DeliveryRecord,
    ExecutionRecord,
    ScheduleRecord,
    ScriptRecord,
    SigningSecretRecord,
    VariableRecord,
)


def iso(value: dt.datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, as the vendor's logs show dates."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def script_model(script: ScriptRecord) -> dict[str, Any]:
    """A script."""
    return {
        "scriptId": script.id,
        "name": script.name,
        "version": script.version,
        "createdAt": iso(script.created_at),
        "updatedAt": iso(script.updated_at),
        "timeout": script.timeout,
        "parameters": script.parameters,
        "webhook": None if script.webhook is None else json.loads(script.webhook),
        "variables": list(script.variables),
        "retries": None if script.retries is None else json.loads(script.retries),
    }


def script_list_item(
    script: ScriptRecord,
    last: ExecutionRecord | None,
    schedule: ScheduleRecord | None = None,
    deliveries: Sequence[DeliveryRecord] = (),
) -> dict[str, Any]:
    """A script in the listing: with ``lastExecution``, its newest run of any version,
    ``nextScheduledRun``, its enabled schedule that ticks soonest, and
    ``lastDeliveries``, the newest webhook deliveries of its runs (newest first)."""
    return {
        **script_model(script),
        "lastExecution": None if last is None else execution_model(last),
        "nextScheduledRun": None if schedule is None else scheduled_run(schedule),
        "lastDeliveries": [delivery_model(d) for d in deliveries],
    }


def scheduled_run(schedule: ScheduleRecord) -> dict[str, Any]:
    """A schedule's next tick, in short."""
    return {
        "scheduleId": schedule.id,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "at": iso(schedule.next_at),
    }


def execution_model(execution: ExecutionRecord) -> dict[str, Any]:
    """One entry of ``filteredLogs``."""
    return {
        "executionId": execution.id,
        "scriptId": execution.script_id,
        "executionDate": iso(execution.created_at),
        "statusCode": execution.status_code,
        "state": execution.state,
        "version": execution.version,
        "mode": execution.mode,
        "method": execution.method,
        "durationMs": None if execution.duration_ms is None else round(execution.duration_ms, 1),
        "attempt": execution.attempt,
        "retryOf": execution.retry_of,
        "retriedBy": execution.retried_by,
    }


def key_model(key: ApiKeyRecord) -> dict[str, Any]:
    """An API key (never its secret)."""
    return {
        "keyId": key.id,
        "tenant": key.tenant,
        "user": key.user,
        "role": key.role,
        "createdAt": iso(key.created_at),
        "revokedAt": iso(key.revoked_at),
    }


def schedule_model(schedule: ScheduleRecord) -> dict[str, Any]:
    """A schedule, with its next ticks (none while disabled)."""
    ticks: list[dt.datetime] = []
    if schedule.next_at is not None:
        following = schedules.upcoming(
            schedule.cron, schedule.timezone, schedule.next_at, schedules.SHOWN_TICKS - 1
        )
        ticks = [schedule.next_at, *following]
    return {
        "scheduleId": schedule.id,
        "scriptId": schedule.script_id,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "body": schedules.body_value(schedule.body),
        "enabled": schedule.enabled,
        "catchUp": schedule.catch_up,
        "nextRuns": [iso(tick) for tick in ticks],
        "lastTickAt": iso(schedule.last_tick_at),
        "lastExecutionId": schedule.last_execution_id,
        "createdAt": iso(schedule.created_at),
        "updatedAt": iso(schedule.updated_at),
    }


def delivery_model(delivery: DeliveryRecord) -> dict[str, Any]:
    """A webhook delivery of a run's end, with its attempts."""
    return {
        "deliveryId": delivery.id,
        "executionId": delivery.execution_id,
        "url": delivery.url,
        "event": delivery.event,
        "state": delivery.state,
        "createdAt": iso(delivery.created_at),
        "nextAttemptAt": iso(delivery.next_at),
        "giveUpAt": iso(delivery.give_up_at),
        "attempts": [
            {
                "attempt": a.attempt,
                "at": iso(a.at),
                "node": a.node,
                "statusCode": a.status_code,
                "error": a.error,
                "durationMs": a.duration_ms,
            }
            for a in delivery.attempts
        ],
    }


def variable_model(record: VariableRecord, value: str | None = None) -> dict[str, Any]:
    """A tenant variable: its name, kind and dates; ``value`` only for a plain one read
    by name (a secret's value is never shown)."""
    model: dict[str, Any] = {
        "name": record.name,
        "secret": record.secret,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
    }
    if value is not None and not record.secret:
        model["value"] = value
    return model


def signing_secret_model(record: SigningSecretRecord | None) -> dict[str, Any]:
    """Whether the tenant has a signing secret, and since when (never the secret)."""
    return {
        "configured": record is not None,
        "createdAt": None if record is None else iso(record.created_at),
    }
