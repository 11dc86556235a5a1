"""The queue's fairness (``next_in_line``) as a pure function; test_background.py shows it
on real queued runs."""

from __future__ import annotations

import datetime as dt

from jupyter_scripting.execution.queue import TenantQueue, next_in_line

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_nothing_queued() -> None:
    assert next_in_line([]) is None


def test_fewest_running_first() -> None:
    busy = TenantQueue("busy", oldest=1, running=3, last_started=T0)
    idle = TenantQueue("idle", oldest=9, running=0, last_started=T0)
    assert next_in_line([busy, idle]) is idle


def test_then_the_tenant_served_longest_ago_a_new_one_before_all() -> None:
    recent = TenantQueue("recent", oldest=1, last_started=T0 + dt.timedelta(minutes=1))
    earlier = TenantQueue("earlier", oldest=5, last_started=T0)
    new = TenantQueue("new", oldest=7)
    assert next_in_line([recent, earlier]) is earlier
    assert next_in_line([recent, earlier, new]) is new


def test_then_the_oldest_queued_run() -> None:
    a = TenantQueue("a", oldest=4, last_started=T0)
    b = TenantQueue("b", oldest=2, last_started=T0)
    assert next_in_line([a, b]) is b


def test_tenants_take_turns() -> None:
    """Two tenants with runs queued and one seat: each start goes to the other."""
    clock = T0
    served: dict[str, dt.datetime | None] = {"a": None, "b": None}
    order = []
    for _ in range(4):
        chosen = next_in_line(
            TenantQueue(t, oldest=i, last_started=served[t]) for i, t in enumerate("ab")
        )
        assert chosen is not None
        order.append(chosen.tenant)
        clock += dt.timedelta(seconds=1)
        served[chosen.tenant] = clock
    assert order == ["a", "b", "a", "b"]
