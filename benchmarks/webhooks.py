"""`make bench-webhooks`: how soon a run's end reaches its webhook, on one node (SQLite)
and on three nodes sharing PostgreSQL, and whether each end is delivered exactly once.

For each row, fresh nodes on a fresh store with the default ``webhook_interval`` (5 s):
the hello script with a webhook to a receiver on 127.0.0.1 (allow-listed), then
``--runs`` background runs queued round robin through the nodes, ``--concurrency`` at a
time. The reference is the run's end itself (``finished_at`` in the store): the figure
is how long after it the receiver had the signed POST, and how many POSTs each run got
(must be one: every attempt here is answered 204).
"""

from __future__ import annotations

import argparse
import collections
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import percentile
from cluster import DEFAULT_POSTGRES_URL, call, nodes, publish_hello, schema, utc


class Receiver:
    """Counts the POSTs it gets, with when each arrived, by execution."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        receiver = self

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.time()
                receiver.arrivals[json.loads(body)["executionId"]].append(arrived)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def measure(label: str, count: int, url: str, engine: Engine, args: argparse.Namespace) -> str:
    receiver = Receiver()
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    settings: dict[str, Any] = {
        "webhook_allowed_hosts": ["127.0.0.1"],
        "secret_key": Fernet.generate_key().decode(),  # the same on every node
    }
    with nodes(count, url, work, **settings) as ports:
        script = publish_hello(ports[0])
        hook = json.dumps({"webhook": {"url": receiver.url}}).encode()
        status, body = call(ports[0], "PATCH", f"/scripting/script/{script}", hook)
        assert status == 200, body
        ids: list[str] = []
        body = json.dumps({"name": "hook"}).encode()
        for i in range(args.runs):
            status, answer = call(
                ports[i % len(ports)], "POST", f"/scripting/script/{script}/background", body
            )
            assert status == 202, answer
            ids.append(json.loads(answer)["executionId"])
        deadline = time.monotonic() + 120 + args.runs
        while time.monotonic() < deadline and len(receiver.arrivals) < len(ids):
            time.sleep(0.2)
        time.sleep(2)  # a late duplicate would arrive by now
        with engine.connect() as connection:
            ends = dict(connection.execute(text("SELECT id, finished_at FROM executions")).all())
    receiver.server.shutdown()
    latencies = [
        (arrivals[0] - utc(ends[execution]).timestamp()) * 1000
        for execution, arrivals in receiver.arrivals.items()
        if ends.get(execution) is not None
    ]
    per_run = collections.Counter(len(receiver.arrivals.get(i, [])) for i in ids)
    once = per_run == collections.Counter({1: len(ids)})
    return (
        f"| {label} | {len(ids)} | {dict(sorted(per_run.items()))} "
        f"({'exactly once' if once else 'NOT once'}) "
        f"| {_ms(percentile(latencies, 50))} / {_ms(percentile(latencies, 95))} "
        f"| {_ms(max(latencies) if latencies else None)} |"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="background runs per row")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    lines = []
    sqlite_dir = Path(tempfile.mkdtemp(prefix="bench-webhooks-store-"))
    sqlite_url = f"sqlite:///{sqlite_dir / 'store.sqlite'}"
    sqlite_engine = create_engine(sqlite_url, poolclass=NullPool)
    lines.append(measure("SQLite, 1 node", 1, sqlite_url, sqlite_engine, args))
    sqlite_engine.dispose()
    with schema(args.postgres_url) as url:
        options = url.split("?options=", 1)[1].replace("%3D", "=")
        engine = create_engine(
            args.postgres_url, poolclass=NullPool, connect_args={"options": options}
        )
        try:
            lines.append(measure("PostgreSQL, 3 nodes", 3, url, engine, args))
        finally:
            engine.dispose()
    print(f"\n{args.runs} background runs of hello per row; reference: the run's end\n")
    print("| setup | runs | POSTs per run | delivered after the end p50 / p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for line in lines:
        print(line)
    return 0 if all("exactly once" in line for line in lines) else 1


if __name__ == "__main__":
    raise SystemExit(main())
