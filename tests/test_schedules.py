"""Schedules (README, "Schedules"): when a tick fires (``schedules.plan``), the store
firing each tick exactly once with an injected clock, on SQLite and on three stores
sharing PostgreSQL, and the HTTP routes end to end: a fired tick's run is executed and
logged."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest

from jupyter_scripting import schedules
from jupyter_scripting.errors import BadRequest, ScheduleNotFound, ScriptNotFound
from jupyter_scripting.store import Store

from . import test_store
from .helpers import body_json, notebook_of, scripting_app
from .test_store import Backend, Clock, notebook, postgresql_backend

#: The store tests' backends: SQLite, and PostgreSQL when there is one.
backend = test_store.backend
UTC = dt.UTC
#: A Monday in winter: Berlin is UTC+1.
T0 = dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
EVERY_5 = schedules.ScheduleSpec("*/5 * * * *", "UTC", '{"n": 1}', True, "skip")


def request_of(record: object) -> bytes:
    return b'{"method": "POST"}'


# -- when a tick fires -----------------------------------------------------------------------
def test_a_tick_fires_on_time_and_the_next_is_after_now() -> None:
    firing = schedules.plan("*/5 * * * *", "UTC", T0, T0 + dt.timedelta(seconds=3), "skip")
    assert (firing.fire, firing.tick, firing.missed) == (True, T0, False)
    assert firing.next_at == T0 + dt.timedelta(minutes=5)


@pytest.mark.parametrize(("catch_up", "fires"), [("skip", False), ("once", True)])
def test_after_downtime_missed_ticks_are_skipped_or_run_once(catch_up: str, fires: bool) -> None:
    now = T0 + dt.timedelta(hours=3, minutes=2)
    firing = schedules.plan("*/5 * * * *", "UTC", T0, now, catch_up)
    assert (firing.fire, firing.missed) == (fires, True)
    assert firing.tick == T0 + dt.timedelta(hours=3)  # the latest tick, once at most
    assert firing.next_at == T0 + dt.timedelta(hours=3, minutes=5)
    # The latest tick less than the grace late still fires, whatever was missed before.
    late = schedules.plan(
        "*/5 * * * *", "UTC", T0, now - dt.timedelta(minutes=1, seconds=30), catch_up
    )
    assert late.fire and late.tick == T0 + dt.timedelta(hours=3)


def test_ticks_are_in_the_schedules_time_zone() -> None:
    ticks = schedules.upcoming("0 9 * * *", "Europe/Berlin", T0, 1)
    assert ticks == [dt.datetime(2026, 1, 6, 8, 0, tzinfo=UTC)]  # 09:00 CET
    summer = dt.datetime(2026, 7, 1, tzinfo=UTC)
    assert schedules.next_tick("0 9 * * *", "Europe/Berlin", summer).hour == 7  # CEST


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"cron": "61 * * * *"},
        {"cron": "* * * * * *"},
        {"cron": "*/5 * * * *", "timezone": "Mars/Olympus"},
        {"cron": "*/5 * * * *", "enabled": "yes"},
        {"cron": "*/5 * * * *", "catchUp": "all"},
        {"cron": "*/5 * * * *", "colour": "red"},
        ["*/5 * * * *"],
    ],
)
def test_bad_settings_are_refused_saying_what(payload: object) -> None:
    with pytest.raises(BadRequest) as refused:
        schedules.parse_spec(payload)
    assert refused.value.args[0]


# -- the store fires each tick once ----------------------------------------------------------
async def queued_runs(store: Store, tenant: str, script_id: str) -> int:
    entries, _ = await store.list_executions(tenant, script_id, limit=1000)
    return sum(1 for e in entries if e.state == "queued" and e.mode == "background")


async def test_each_tick_fires_once_with_an_injected_clock(backend: Backend) -> None:
    clock = Clock(T0 - dt.timedelta(minutes=1))
    store = backend.store(clock=clock)
    await store.start()
    try:
        script = await store.create_script("acme", "report", notebook("report"))
        schedule = await store.create_schedule("acme", script.id, EVERY_5)
        assert schedule.next_at == T0
        assert await store.fire_due_schedules(request_of) == []  # not due yet
        fired = []
        for minute in range(0, 16):  # ticks at 0, 5, 10, 15; looks every minute, 7 s late
            clock.now = T0 + dt.timedelta(minutes=minute, seconds=7)
            fired += await store.fire_due_schedules(request_of)
            fired += await store.fire_due_schedules(request_of)  # a second look: nothing
        assert [f.tick for f in fired] == [T0 + dt.timedelta(minutes=m) for m in (0, 5, 10, 15)]
        assert all(f.execution_id for f in fired)
        assert await queued_runs(store, "acme", script.id) == 4
        again = await store.get_schedule("acme", script.id, schedule.id)
        assert again.last_execution_id == fired[-1].execution_id
        assert again.next_at == T0 + dt.timedelta(minutes=20)

        # Down for two hours: one look, no burst (skip: none; once: one run).
        clock.now = T0 + dt.timedelta(hours=2, minutes=1, seconds=30)
        (skipped,) = await store.fire_due_schedules(request_of)
        assert skipped.execution_id is None
        once = await store.update_schedule(
            "acme", script.id, schedule.id, dataclasses.replace(EVERY_5, catch_up="once")
        )
        clock.now = T0 + dt.timedelta(hours=5, minutes=1, seconds=30)
        (caught_up,) = await store.fire_due_schedules(request_of)
        assert caught_up.execution_id and caught_up.tick == T0 + dt.timedelta(hours=5)
        assert await queued_runs(store, "acme", script.id) == 5
        assert once.next_at is not None

        # Disabled: never due; another tenant sees no schedule; deleted with its script.
        off = schedules.parse_spec({"enabled": False}, EVERY_5, partial=True)
        assert (await store.update_schedule("acme", script.id, schedule.id, off)).next_at is None
        clock.now += dt.timedelta(days=1)
        assert await store.fire_due_schedules(request_of) == []
        with pytest.raises(ScriptNotFound):
            await store.list_schedules("other", script.id)
        await store.delete_script("acme", script.id)
        with pytest.raises(ScriptNotFound):
            await store.get_schedule("acme", script.id, schedule.id)
    finally:
        await store.close()


@pytest.mark.postgresql
async def test_three_nodes_sharing_postgresql_fire_each_tick_once() -> None:
    with postgresql_backend() as backend:
        clock = Clock(T0 - dt.timedelta(minutes=1))
        stores = [backend.store(clock=clock) for _ in range(3)]
        for store in stores:
            await store.start()
        try:
            script = await stores[0].create_script("acme", "report", notebook("report"))
            every_minute = schedules.parse_spec({"cron": "* * * * *"})
            ids = [
                (await stores[0].create_schedule("acme", script.id, every_minute)).id
                for _ in range(5)
            ]
            fired = []
            for second in range(0, 10 * 60, 20):  # ten minutes, every node looks every 20 s
                clock.now = T0 + dt.timedelta(seconds=second + 1)
                rounds = await asyncio.gather(
                    *(store.fire_due_schedules(request_of) for store in stores for _ in range(2))
                )
                fired += [tick for found in rounds for tick in found]
            per_schedule = {i: sorted(f.tick for f in fired if f.schedule_id == i) for i in ids}
            expected = [T0 + dt.timedelta(minutes=m) for m in range(10)]
            assert all(ticks == expected for ticks in per_schedule.values()), per_schedule
            assert await queued_runs(stores[1], "acme", script.id) == 5 * 10
        finally:
            for store in stores:
                await store.close()


# -- the routes, and a fired tick's run ------------------------------------------------------
async def test_schedules_over_http_and_a_fired_run_is_executed(api, publish, jp_serverapp) -> None:
    app = scripting_app(jp_serverapp)
    script_id = await publish(
        notebook_of(
            'import json\nresponse.json({"body": request.json(), '
            '"schedule": request.headers.get("X-Scripting-Schedule")})'
        )
    )
    route = ("scripting", "script", script_id, "schedule")
    created = await api(
        *route,
        method="POST",
        body=json.dumps({"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "body": {"n": 7}}),
    )
    assert created.code == 201
    schedule = body_json(created)
    assert created.headers["Location"].endswith(f"/schedule/{schedule['scheduleId']}")
    assert schedule["enabled"] and schedule["catchUp"] == "skip" and schedule["body"] == {"n": 7}
    assert len(schedule["nextRuns"]) == 3
    assert all(run.endswith(("T08:00:00Z", "T07:00:00Z")) for run in schedule["nextRuns"])
    one = (*route, schedule["scheduleId"])
    assert body_json(await api(*route))["schedules"] == [schedule]
    assert body_json(await api(*one)) == schedule

    (listed,) = [
        s
        for s in body_json(await api("scripting", "script"))["scripts"]
        if s["scriptId"] == script_id
    ]
    assert listed["nextScheduledRun"] == {
        "scheduleId": schedule["scheduleId"],
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
        "at": schedule["nextRuns"][0],
    }
    paused = body_json(await api(*one, method="PATCH", body='{"enabled": false}'))
    assert paused["enabled"] is False and paused["nextRuns"] == []
    (listed,) = [
        s
        for s in body_json(await api("scripting", "script"))["scripts"]
        if s["scriptId"] == script_id
    ]
    assert listed["nextScheduledRun"] is None
    for bad, status in (
        ('{"cron": "every day"}', 400),
        ('{"colour": 1}', 400),
        ("{}", 400),
        ("not json", 400),
    ):
        answer = await api(*one, method="PATCH", body=bad)
        assert answer.code == status, bad
        assert body_json(answer)["message"]
    missing = "00000000-0000-4000-8000-000000000000"
    for path in ((*route, missing), (*route, "nope"), ("scripting", "script", missing, "schedule")):
        assert (await api(*path)).code == 404

    # Due now (the store's clock a minute on): the tick queues one run, which runs. The
    # service's own loop may be the one that fires it: either way, once.
    store = app.service.store
    await api(*one, method="PATCH", body='{"enabled": true, "cron": "* * * * *"}')
    real = store._clock
    store._clock = lambda: real() + dt.timedelta(minutes=1, seconds=1)
    try:
        fired = await app.service.fire_schedules()
        fired += await app.service.fire_schedules()
    finally:
        store._clock = real
    assert len(fired) <= 1
    execution_id = body_json(await api(*one))["lastExecutionId"]
    assert execution_id and all(tick.execution_id == execution_id for tick in fired)
    for _ in range(300):
        done = await api("scripting", "log", "script", script_id, "execution", execution_id)
        if done.code != 202:
            break
        await asyncio.sleep(0.1)
    assert done.code == 200
    assert body_json(done) == {"body": {"n": 7}, "schedule": schedule["scheduleId"]}
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["executionId"] == execution_id and entry["mode"] == "background"

    assert (await api(*one, method="DELETE")).code == 204
    assert (await api(*one)).code == 404
    with pytest.raises(ScheduleNotFound):
        await app.service.get_schedule("default", script_id, schedule["scheduleId"])


async def test_a_schedules_body_must_fit_the_scripts_parameters(api, publish) -> None:
    script_id = await publish("papermill_typed")
    route = ("scripting", "script", script_id, "schedule")
    refused = await api(*route, method="POST", body='{"cron": "@hourly", "body": {"c": "x"}}')
    assert refused.code == 422
    assert [p["name"] for p in body_json(refused)["problems"]] == ["c"]
    assert (
        await api(*route, method="POST", body='{"cron": "@hourly", "body": {"c": 2}}')
    ).code == 201
