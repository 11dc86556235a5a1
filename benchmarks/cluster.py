"""`make bench-cluster`: sync and background throughput of 1, 2 and 3 nodes on one
PostgreSQL store, beside one node on the embedded SQLite store (the reference).

One machine, loopback only, the hello script of `make bench`. For each row, fresh nodes
on a fresh store (a PostgreSQL schema of its own):

* sync: ``--sync`` runs from 10 client threads spread round robin over the nodes; runs
  per second over the batch, p50 and p95 of each HTTP exchange;
* background: ``--background`` runs queued as fast as one client can over the nodes, then
  runs per second from the first submission to the last run's end (read from the store),
  and p50/p95 of each run's wait in the queue (started minus created, the store's times).

On one 2-core machine more nodes add no CPU: the figures show what the coordination
costs (seats, heartbeats, NOTIFY) rather than how far the cluster scales.
Needs a PostgreSQL server: ``--postgres-url`` (default: the tests' local one).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import itertools
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (
    BODY,
    CONCURRENCY,
    HELLO,
    TOKEN,
    Client,
    Result,
    free_port,
    jupyter_env,
    percentile,
    run_concurrently,
    scripting_argv,
    server_process,
    wait_http,
)

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HEADERS = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}


@dataclass
class Row:
    label: str
    nodes: int
    sync_rate: float = 0.0
    sync_latencies: list[float] = field(default_factory=list)
    background_rate: float = 0.0
    queue_waits: list[float] = field(default_factory=list)
    errors: int = 0


@contextlib.contextmanager
def schema(url: str) -> Iterator[str]:
    """A fresh schema; the database URL that selects it."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def nodes(count: int, database_url: str, work: Path, **extra: Any) -> Iterator[list[int]]:
    """``count`` servers on one store (with ``extra`` ScriptingApp settings); their ports."""
    with contextlib.ExitStack() as stack:
        started = []
        for i in range(count):
            home = Path(tempfile.mkdtemp(prefix=f"node{i}-", dir=work))
            port = free_port()
            (home / "config").mkdir()
            settings = {
                "database_url": database_url,
                "node_name": f"bench-{i}",
                "max_sync_runs_per_tenant": 32,
                "max_background_runs": 16,
                "sandbox": "required",
                **extra,
            }
            (home / "config" / "jupyter_server_config.json").write_text(
                json.dumps({"ScriptingApp": settings})
            )
            argv = scripting_argv(port, home)
            log = home / "server.log"
            process = stack.enter_context(server_process(argv, jupyter_env(home), home, log))
            started.append((port, process, log))
        for port, process, log in started:
            wait_http(port, "/scripting/script", HEADERS, process, log)
        yield [port for port, _, _ in started]


def call(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body, HEADERS)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def publish_hello(port: int) -> str:
    """Publish the hello script through the node on ``port``; its id."""
    notebook = json.loads(HELLO.read_text())
    payload = json.dumps({"name": "hello", "notebook": notebook}).encode()
    status, body = call(port, "POST", "/scripting/script", payload)
    assert status == 201, body
    return str(json.loads(body)["scriptId"])


def measure_sync(row: Row, ports: list[int], script: str, total: int) -> None:
    """``total`` runs from CONCURRENCY clients, each keeping to one node, round robin."""
    nodes = itertools.cycle(ports)
    path = f"/scripting/script/{script}/run"
    measured = Result("jupyter_scripting", row.label)
    row.sync_rate, _ = run_concurrently(
        lambda: Client(next(nodes), path, HEADERS), total, measured, lambda: 0.0
    )
    row.sync_latencies = measured.concurrent_latencies
    row.errors += measured.errors


def utc(value: Any) -> dt.datetime:
    """A time read from the store (naive UTC; SQLite's as text) as an aware datetime."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC)


def measure_background(row: Row, ports: list[int], script: str, total: int, engine: Any) -> None:
    ids = []
    began = time.time()
    for i in range(total):
        path = f"/scripting/script/{script}/background"
        status, body = call(ports[i % len(ports)], "POST", path, BODY)
        if status != 202:
            row.errors += 1
            continue
        ids.append(json.loads(body)["executionId"])
    ended = text(
        "SELECT status_code, created_at, started_at, finished_at FROM executions "
        "WHERE id IN :ids AND state IN ('finished', 'failed')"
    ).bindparams(bindparam("ids", expanding=True))
    deadline = time.monotonic() + 600
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            rows = list(connection.execute(ended, {"ids": ids}))
        if len(rows) == len(ids):
            break
        time.sleep(0.2)
    row.errors += sum(r.status_code != 200 for r in rows) + len(ids) - len(rows)
    last = max(utc(r.finished_at) for r in rows).timestamp()
    row.background_rate = len(rows) / (last - began)
    row.queue_waits = [(utc(r.started_at) - utc(r.created_at)).total_seconds() for r in rows]


def run_row(
    label: str, count: int, database_url: str, args: argparse.Namespace, work: Path, engine: Any
) -> Row:
    row = Row(label, count)
    with nodes(count, database_url, work) as ports:
        script = publish_hello(ports[0])
        for port in ports:  # start each node's zygote and pool
            call(port, "POST", f"/scripting/script/{script}/run", BODY)
        time.sleep(1.0)
        measure_sync(row, ports, script, args.sync)
        time.sleep(1.0)
        measure_background(row, ports, script, args.background, engine)
    return row


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def print_table(rows: list[Row]) -> None:
    reference = rows[0]
    print()
    print(
        f"{'store, nodes':<22} {'sync/s':>7} {'vs ref':>7} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'bg/s':>7} {'vs ref':>7} {'wait p50':>9} {'wait p95':>9} {'errors':>6}"
    )
    for row in rows:
        sync_ratio = row.sync_rate / reference.sync_rate if reference.sync_rate else 0
        bg_ratio = (
            row.background_rate / reference.background_rate if reference.background_rate else 0
        )
        sync50, sync95 = (ms(percentile(row.sync_latencies, q)) for q in (50, 95))
        wait50, wait95 = (ms(percentile(row.queue_waits, q)) for q in (50, 95))
        print(
            f"{row.label:<22} {row.sync_rate:>7.1f} {sync_ratio:>6.2f}x {sync50:>7} {sync95:>7} "
            f"{row.background_rate:>7.1f} {bg_ratio:>6.2f}x {wait50:>9} {wait95:>9} "
            f"{row.errors:>6}"
        )
    print(
        f"\nreference: {reference.label}; sync at concurrency {CONCURRENCY}; "
        "wait = a background run's time in the queue"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--sync", type=int, default=300, help="sync runs per row")
    parser.add_argument("--background", type=int, default=300, help="background runs per row")
    parser.add_argument("--nodes", default="1,2,3", help="node counts on PostgreSQL")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    rows = []
    sqlite_home = Path(tempfile.mkdtemp(prefix="sqlite-", dir=work))
    sqlite_url = f"sqlite:///{sqlite_home / 'store.sqlite'}"
    sqlite_engine = create_engine(sqlite_url, poolclass=NullPool)
    print("1 node, SQLite ...", flush=True)
    rows.append(run_row("SQLite, 1 node", 1, sqlite_url, args, work, sqlite_engine))
    sqlite_engine.dispose()
    for count in (int(n) for n in args.nodes.split(",")):
        print(f"{count} node(s), PostgreSQL ...", flush=True)
        with schema(args.postgres_url) as url:
            options = url.split("?options=", 1)[1].replace("%3D", "=")
            engine = create_engine(
                args.postgres_url, poolclass=NullPool, connect_args={"options": options}
            )
            try:
                rows.append(
                    run_row(
                        f"PostgreSQL, {count} node{'s' * (count > 1)}",
                        count,
                        url,
                        args,
                        work,
                        engine,
                    )
                )
            finally:
                engine.dispose()
    print_table(rows)
    return 0 if all(r.errors == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
