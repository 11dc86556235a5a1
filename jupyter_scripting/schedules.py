"""Schedules (README, "Schedules"): a script run in the background at each tick of a cron
expression, in a time zone, with a fixed JSON body.

What a schedule is and when it fires is decided here, from its settings and the clock;
the store fires due schedules (``ScheduleStore.fire_due_schedules``) with a conditional
UPDATE of ``next_at``, so that each tick queues exactly one run however many nodes share
the store. Cron expressions are read by ``croniter`` (five fields, with its extensions:
``@hourly``, ``L``, ``#``…), time zones by ``zoneinfo`` (IANA names).
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from croniter import CroniterBadCronError, croniter

from .errors import BadRequest

CatchUp = Literal["skip", "once"]
CATCH_UP: tuple[CatchUp, ...] = ("skip", "once")
#: How late a tick may fire and still count as on time (a poll, a busy store): past it,
#: the tick was missed (the service was down) and ``catch_up`` decides.
GRACE = dt.timedelta(seconds=60)
#: The next ticks shown with a schedule.
SHOWN_TICKS = 3
#: The longest cron expression and body kept.
MAX_CRON = 255
MAX_BODY = 64 * 1024
_FIELDS = {"cron", "timezone", "body", "enabled", "catchUp"}


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule's settings, checked."""

    cron: str
    timezone: str
    #: The run's JSON body, as text (None: no body).
    body: str | None
    enabled: bool
    catch_up: CatchUp


def parse_spec(
    payload: Any, current: ScheduleSpec | None = None, *, partial: bool = False
) -> ScheduleSpec:
    """The settings of a POST (``partial=False``) or PATCH body, over ``current``;
    ``BadRequest`` names what is wrong."""
    if not isinstance(payload, dict):
        raise BadRequest("The body must be a JSON object with cron, timezone, body, enabled.")
    unknown = sorted(set(payload) - _FIELDS)
    if unknown:
        raise BadRequest(
            f"Unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})."
        )
    if partial and not payload:
        raise BadRequest(
            "PATCH takes a JSON object with cron, timezone, body, enabled and/or catchUp."
        )
    if not partial and "cron" not in payload:
        raise BadRequest('A schedule needs "cron", e.g. "*/5 * * * *".')
    base = current or ScheduleSpec("", "UTC", None, True, "skip")
    cron = payload.get("cron", base.cron)
    timezone = payload.get("timezone", base.timezone)
    enabled = payload.get("enabled", base.enabled)
    catch_up = payload.get("catchUp", base.catch_up)
    body = base.body
    if "body" in payload:
        body = None if payload["body"] is None else json.dumps(payload["body"])
    if not isinstance(cron, str) or not cron.strip() or len(cron) > MAX_CRON:
        raise BadRequest('"cron" must be a cron expression, e.g. "*/5 * * * *".')
    cron = " ".join(cron.split())
    if not croniter.is_valid(cron) or len(cron.split()) > 5:
        raise BadRequest(
            f'"cron" is not a cron expression of five fields (minute hour day month '
            f"weekday): {cron!r}."
        )
    if not isinstance(timezone, str):
        raise BadRequest('"timezone" must be an IANA time zone name, e.g. "Europe/Berlin".')
    zone(timezone)
    if not isinstance(enabled, bool):
        raise BadRequest('"enabled" must be true or false.')
    if catch_up not in CATCH_UP:
        raise BadRequest('"catchUp" must be "skip" or "once".')
    if body is not None and len(body) > MAX_BODY:
        raise BadRequest(f'"body" must be at most {MAX_BODY} bytes of JSON.')
    return ScheduleSpec(cron, timezone, body, enabled, catch_up)


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone ``name``; ``BadRequest`` if there is none of that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f'"timezone" is no IANA time zone name: {name!r}.') from None


def next_tick(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first tick strictly after ``after`` (aware UTC, as is the answer)."""
    start = after.astimezone(zone(timezone))
    try:
        moment: dt.datetime = croniter(cron, start).get_next(dt.datetime)
    except CroniterBadCronError as exc:  # (checked when the schedule was written)
        raise BadRequest(f'"cron" cannot be read: {exc}.') from None
    return moment.astimezone(dt.UTC)


def upcoming(
    cron: str, timezone: str, after: dt.datetime, count: int = SHOWN_TICKS
) -> list[dt.datetime]:
    """The next ``count`` ticks after ``after``."""
    ticks: list[dt.datetime] = []
    moment = after
    for _ in range(count):
        moment = next_tick(cron, timezone, moment)
        ticks.append(moment)
    return ticks


@dataclass(frozen=True)
class Firing:
    """What a due schedule does now: queue a run for ``tick`` (or not), then wait for
    ``next_at``; ``missed``: ticks passed without a run of their own."""

    fire: bool
    tick: dt.datetime
    next_at: dt.datetime
    missed: bool


def plan(
    cron: str,
    timezone: str,
    due: dt.datetime,
    now: dt.datetime,
    catch_up: str,
    grace: dt.timedelta = GRACE,
) -> Firing:
    """A schedule due at ``due`` (<= ``now``): the ticks up to now are one firing at most.

    The latest tick not after ``now`` fires if it is at most ``grace`` late; when it is
    later than that (the service was down), ``catch_up`` decides: ``skip`` queues
    nothing, ``once`` one run for all the ticks missed. Never a burst of catch-up runs."""
    latest = max(due, last_tick(cron, timezone, now))
    on_time = now - latest <= grace
    return Firing(
        fire=on_time or catch_up == "once",
        tick=latest,
        next_at=next_tick(cron, timezone, now),
        missed=latest > due or not on_time,
    )


def last_tick(cron: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """The latest tick at or before ``now``."""
    # croniter's get_prev is strictly before its start: a microsecond later includes now.
    start = (now + dt.timedelta(microseconds=1)).astimezone(zone(timezone))
    moment: dt.datetime = croniter(cron, start).get_prev(dt.datetime)
    return moment.astimezone(dt.UTC)


def run_body(spec_body: str | None) -> bytes:
    """The body a scheduled run sends (its schedule's JSON, or none)."""
    return b"" if spec_body is None else spec_body.encode("utf-8")


def schedule_headers(schedule_id: str, body: str | None) -> list[tuple[str, str]]:
    """The headers a scheduled run's script sees."""
    headers = [("X-Scripting-Schedule", schedule_id)]
    if body is not None:
        headers.insert(0, ("Content-Type", "application/json"))
    return headers


def body_value(body: str | None) -> Any:
    """The schedule's body as JSON data (for its model)."""
    return None if body is None else json.loads(body)


def as_mapping(spec: ScheduleSpec) -> Mapping[str, Any]:
    """The columns of ``spec``."""
    return {
        "cron": spec.cron,
        "timezone": spec.timezone,
        "body": spec.body,
        "enabled": spec.enabled,
        "catch_up": spec.catch_up,
    }
