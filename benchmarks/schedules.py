"""`make bench-schedules`: how late schedules fire, on one node (SQLite) and on three
nodes sharing PostgreSQL, and whether each tick queued exactly one run.

For each row, fresh nodes on a fresh store with the default ``schedule_interval`` (5 s;
a node sleeps until the soonest tick, that long at most):
``--schedules`` schedules ``* * * * *`` of the hello script, then ``--ticks`` minute
ticks waited for. From the store: how late each run was queued after its tick (the
schedule's own lateness: the reference is the tick itself), how late it started (queue
included), and the runs per tick (must be exactly one per schedule and tick on every row).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import percentile
from cluster import DEFAULT_POSTGRES_URL, call, nodes, publish_hello, schema, utc


def measure(
    label: str, count: int, url: str, engine: Engine, args: argparse.Namespace, work: Path
) -> str:
    with nodes(count, url, work) as ports:
        script = publish_hello(ports[0])
        plan = json.dumps({"cron": "* * * * *", "body": {"name": "tick"}}).encode()
        for _ in range(args.schedules):
            status, body = call(ports[0], "POST", f"/scripting/script/{script}/schedule", plan)
            assert status == 201, body
        now = dt.datetime.now(dt.UTC)
        first = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        last = first + dt.timedelta(minutes=args.ticks - 1)
        wait = (last - now).total_seconds() + 40  # the last tick, its runs queued and run
        print(f"  {label}: waiting {wait:.0f} s for {args.ticks} ticks ...", flush=True)
        time.sleep(wait)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT created_at, started_at, state, status_code FROM executions")
            ).all()
    queued, started, per_tick, failed = [], [], collections.Counter[dt.datetime](), 0
    for created_at, started_at, state, status_code in rows:
        created = utc(created_at)
        tick = created.replace(second=0, microsecond=0)
        per_tick[tick] += 1
        queued.append((created - tick).total_seconds() * 1000)
        if started_at is not None:
            started.append((utc(started_at) - tick).total_seconds() * 1000)
        failed += state != "finished" or status_code != 200
    counts = sorted(set(per_tick[t] for t in per_tick if first <= t <= last))
    once = (
        counts == [args.schedules]
        and len([t for t in per_tick if first <= t <= last]) == args.ticks
    )
    return (
        f"| {label} | {len(rows)} | {counts} ({'exactly once' if once else 'NOT once per tick'}) "
        f"| {_ms(percentile(queued, 50))} / {_ms(percentile(queued, 95))} "
        f"| {_ms(percentile(started, 50))} / {_ms(percentile(started, 95))} | {failed} |"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=5, help="schedules (default 5)")
    parser.add_argument("--ticks", type=int, default=2, help="minute ticks (default 2)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-schedules-"))
    lines = []
    sqlite_url = f"sqlite:///{work / 'store.sqlite'}"
    sqlite_engine = create_engine(sqlite_url, poolclass=NullPool)
    lines.append(measure("SQLite, 1 node", 1, sqlite_url, sqlite_engine, args, work))
    sqlite_engine.dispose()
    with schema(args.postgres_url) as url:
        options = url.split("?options=", 1)[1].replace("%3D", "=")
        engine = create_engine(
            args.postgres_url, poolclass=NullPool, connect_args={"options": options}
        )
        try:
            lines.append(measure("PostgreSQL, 3 nodes", 3, url, engine, args, work))
        finally:
            engine.dispose()
    print(
        f"\n{args.schedules} schedules '* * * * *', {args.ticks} ticks, schedule_interval 5 s; "
        "reference: the tick itself\n"
    )
    print(
        "| setup | runs | runs per tick | queued after the tick p50 / p95 ms "
        "| started after the tick p50 / p95 ms | not 200 |"
    )
    print("|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    return 0 if all("exactly once" in line for line in lines) else 1


if __name__ == "__main__":
    raise SystemExit(main())
