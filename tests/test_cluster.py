"""Several nodes on one PostgreSQL store: real server processes (and a worker) on
loopback, sharing one schema. The limits hold exactly across nodes, a queued run starts
on a node with a free seat at once (LISTEN/NOTIFY: the polling is set to 30 s here), and
the runs of a node killed with SIGKILL are closed by the others."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from jupyter_scripting.store.seats import take_seat
from jupyter_scripting.store.service import Store

from .helpers import notebook_of, poll, postgres_schema, wait_for
from .server_process import ServerProcess, stop_process

pytestmark = pytest.mark.postgresql

NODE_TIMEOUT = 3.0
#: Settings of every node here: a 30 s poll, so only NOTIFY can start a run promptly.
COMMON = (
    "--ScriptingApp.max_background_runs=4",
    "--ScriptingApp.heartbeat_interval=0.5",
    f"--ScriptingApp.node_timeout={NODE_TIMEOUT}",
    "--ScriptingApp.queue_poll_interval=30",
    "--ScriptingApp.kernel_pool_size=1",
)


@dataclass
class Database:
    url: str  # for the nodes: the schema in the URL
    engine: Engine  # for the test's own reading

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(text(query), params))

    def execution(self, execution_id: str) -> Any:
        return self.rows("SELECT * FROM executions WHERE id = :id", id=execution_id)[0]

    def wait_ended(self, ids: list[str], timeout: float = 90.0) -> list[Any]:
        def ended() -> list[Any] | None:
            rows = self.rows(
                "SELECT * FROM executions WHERE id = ANY(:ids) AND state IN ('finished', 'failed')",
                ids=ids,
            )
            return rows if len(rows) == len(ids) else None

        return list(wait_for(ended, timeout, f"{len(ids)} runs to end"))


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with postgres_schema() as (url, schema):
        options = urllib.parse.quote(f"-csearch_path={schema}")
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"options": f"-csearch_path={schema}"}
        )
        try:
            yield Database(f"{url}?options={options}", engine)
        finally:
            engine.dispose()


def start_nodes(nodes: list[ServerProcess]) -> None:
    for node in nodes:
        node.launch()
    for node in nodes:
        node.wait_ready()


@pytest.fixture(scope="module")
def cluster(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Three servers on one schema (the last test kills the second one)."""
    nodes = [
        ServerProcess(
            tmp_path_factory.mktemp(f"node-{name}"),
            f"--ScriptingApp.database_url={database.url}",
            f"--ScriptingApp.node_name=node-{name}",
            *COMMON,
        )
        for name in "abc"
    ]
    try:
        start_nodes(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def sleeper(seconds: float) -> dict[str, Any]:
    return notebook_of(f"import time\ntime.sleep({seconds})", "print('slept')")


def queue(node: ServerProcess, script_id: str, headers: dict[str, str] | None = None) -> str:
    status, body = node.call(
        f"scripting/script/{script_id}/background", "POST", {}, headers=headers
    )
    assert status == 202, body
    return str(json.loads(body)["executionId"])


def max_overlap(rows: list[Any]) -> int:
    """The most runs executing at one instant, from their own start and end times."""
    events = sorted(
        [(r.started_at, 1) for r in rows] + [(r.finished_at, -1) for r in rows],
        key=lambda e: (e[0], e[1]),  # an end before a start at the same instant
    )
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def test_the_sync_limit_of_a_tenant_is_exact_across_nodes(
    cluster: list[ServerProcess], database: Database
) -> None:
    """30 simultaneous 3-second runs of one tenant over three nodes: 10 run, 20 get 429."""
    script = cluster[0].publish(sleeper(3), "sync sleeper")

    together = threading.Barrier(30)

    def call(i: int) -> int:
        together.wait()
        status, _ = cluster[i % 3].call(f"scripting/script/{script}/run", "POST", {}, timeout=120)
        return status

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(call, range(30)))
    assert sorted(statuses) == [200] * 10 + [429] * 20, statuses
    ran = database.rows("SELECT node FROM executions WHERE script_id = :s", s=script)
    assert len(ran) == 10  # a refused run leaves no log
    assert len({r.node for r in ran}) > 1  # spread over the nodes
    assert database.rows("SELECT * FROM seats") == []  # every seat given back


def test_background_runs_hold_the_cluster_cap_and_are_fair(
    cluster: list[ServerProcess], database: Database
) -> None:
    """20 one-second runs, max_background_runs=4: never more than 4 at once anywhere, all
    200; tenant B's 4 runs, queued after tenant A's 16, do not wait for all of A's."""
    _, key = asyncio.run(_api_key(database.url, "tenant-b"))
    as_b = {"Authorization": f"Bearer {key}"}
    a_script = cluster[0].publish(sleeper(1), "a")
    status, body = cluster[1].call(
        "scripting/script", "POST", {"name": "b", "notebook": sleeper(1)}, headers=as_b
    )
    assert status == 201, body
    b_script = json.loads(body)["scriptId"]
    a_runs = [queue(cluster[i % 3], a_script) for i in range(16)]
    b_runs = [queue(cluster[i % 3], b_script, as_b) for i in range(4)]

    rows = database.wait_ended(a_runs + b_runs)
    assert [r.status_code for r in rows] == [200] * 20
    assert max_overlap(rows) <= 4
    assert len({r.node for r in rows}) > 1
    starts = {r.id: r.started_at for r in rows}
    first_b, last_b = min(starts[i] for i in b_runs), max(starts[i] for i in b_runs)
    # First in, first out would start every one of A's runs before B's first one.
    assert sum(starts[i] > first_b for i in a_runs) >= 4
    assert any(starts[i] > last_b for i in a_runs)
    assert database.rows("SELECT * FROM seats") == []


async def _api_key(url: str, tenant: str) -> tuple[Any, str]:
    store = Store(url)
    await store.start()
    try:
        return await store.create_api_key(tenant, "bob", "admin")
    finally:
        await store.close()


def test_a_killed_nodes_runs_are_closed_and_its_queue_goes_on(
    cluster: list[ServerProcess], database: Database
) -> None:
    """kill -9 of a node with running runs: they are logged 500 node-lost within
    node_timeout and a few seconds, their seats come back, the queued runs finish on the
    other nodes."""
    victim = cluster[1]
    script = cluster[0].publish(sleeper(6), "long")
    runs: list[str] = []

    def victim_runs() -> list[Any]:
        return database.rows(
            "SELECT e.id FROM executions e JOIN seats s ON s.execution_id = e.id "
            "WHERE s.node = 'node-b'"
        )

    for _ in range(12):  # until the victim has a run of its own (the nodes race for them)
        runs.append(queue(victim, script))
        if len(runs) >= 6 and poll(victim_runs, 2.0):
            break
    lost = [r.id for r in victim_runs()]
    assert lost
    queued = database.rows(
        "SELECT id FROM executions WHERE state = 'queued' AND id = ANY(:ids)", ids=runs
    )
    assert queued, "some runs should still be queued when the node dies"
    victim.kill()
    killed = time.time()

    rows = {r.id: r for r in database.wait_ended(lost, timeout=NODE_TIMEOUT + 15)}
    for execution_id in lost:
        row = rows[execution_id]
        assert (row.status_code, row.reason) == (500, "node-lost")
        assert row.finished_at.timestamp() - killed <= NODE_TIMEOUT + 5
        assert json.loads(row.content)["reason"] == "node-lost"
    assert not database.rows("SELECT * FROM seats WHERE node = 'node-b'")
    assert not database.rows("SELECT * FROM nodes WHERE name = 'node-b'")
    # Its log, read through another node:
    entries = {e["executionId"]: e for e in cluster[0].log_entries(script)}
    assert entries[lost[0]]["statusCode"] == 500

    others = [r for r in runs if r not in lost]
    ended = database.wait_ended(others, timeout=120)
    assert all(r.status_code == 200 and r.node in ("node-a", "node-c") for r in ended)


# -- a worker-only node -------------------------------------------------------------


def worker_process(home: Path, database_url: str, *settings: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    with open(home / "worker.log", "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_scripting.cli",
                "worker",
                f"--ScriptingApp.database_url={database_url}",
                *settings,
            ],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_runs_what_an_api_only_node_queues_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An API node that executes no background runs (max_node_background_runs=0) and a
    worker that serves no HTTP: the worker starts each queued run within a second (the
    queue's NOTIFY; its polling is 30 s), and stops cleanly on SIGTERM."""
    with postgres_schema() as (url, schema):
        options = urllib.parse.quote(f"-csearch_path={schema}")
        database_url = f"{url}?options={options}"
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"options": f"-csearch_path={schema}"}
        )
        db = Database(database_url, engine)
        api = ServerProcess(
            tmp_path_factory.mktemp("api"),
            f"--ScriptingApp.database_url={database_url}",
            "--ScriptingApp.node_name=api",
            "--ScriptingApp.max_node_background_runs=0",
            *COMMON,
        )
        home = tmp_path_factory.mktemp("worker")
        worker = worker_process(home, database_url, "--ScriptingApp.node_name=worker-1", *COMMON)
        try:
            api.start()
            wait_for(
                lambda: db.rows("SELECT * FROM nodes WHERE name = 'worker-1'"),
                60,
                "the worker to register",
            )
            script = api.publish(notebook_of("print('from the worker')"), "w")
            for _ in range(3):
                (row,) = db.wait_ended([queue(api, script)])
                assert (row.status_code, row.node) == (200, "worker-1")
                assert (row.started_at - row.created_at).total_seconds() < 1.0
            assert worker.poll() is None
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0, (home / "worker.log").read_text()
            assert not db.rows("SELECT * FROM nodes WHERE name = 'worker-1'")
        finally:
            stop_process(worker)
            api.stop()
            engine.dispose()


def test_two_connections_racing_for_the_last_seat_get_it_once(
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> None:
    """Two transactions take the last seat of a scope: the second waits for the first,
    then gets none if the first commits, or the seat if the first rolls back."""
    with postgres_schema() as (url, schema):
        store = Store(url, connect_args={"options": f"-csearch_path={schema}"})
        jp_asyncio_loop.run_until_complete(store.start())
        try:
            script = jp_asyncio_loop.run_until_complete(
                store.create_script("t", "s", json.dumps(notebook_of("1")))
            )
            for first_commits, second_gets in ((True, None), (False, 0)):
                ids = [str(uuid.uuid4()) for _ in range(2)]
                for execution_id in ids:
                    jp_asyncio_loop.run_until_complete(
                        store.create_execution(
                            execution_id=execution_id,
                            tenant="t",
                            script_id=script.id,
                            version=1,
                            mode="sync",
                            method="POST",
                            node="n",
                        )
                    )
                assert race(store, f"race:{ids[0]}", ids, first_commits) == [second_gets]
        finally:
            jp_asyncio_loop.run_until_complete(store.close())


def race(store: Store, scope: str, ids: list[str], first_commits: bool) -> list[int | None]:
    """The first transaction takes the one seat of ``scope``; a second one tries while
    the first is open (it waits on the first's row), then the first ends; what the
    second got."""
    got: list[int | None] = []
    first = store._sessions()
    first.begin()
    now = store._now()
    assert take_seat(first, scope, 1, execution_id=ids[0], node="n", now=now) == 0
    first_pid = first.execute(text("SELECT pg_backend_pid()")).scalar()

    def second() -> None:
        with store._sessions.begin() as session:
            got.append(take_seat(session, scope, 1, execution_id=ids[1], node="n", now=now))

    racer = threading.Thread(target=second)
    racer.start()
    # Autocommit: within one transaction pg_stat_activity is a snapshot taken at its first
    # read, and would never show the racer blocked if the first look came too early.
    with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        assert poll(
            lambda: watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": first_pid},
            ).scalar(),
            10,
        )
        assert got == []  # still waiting for the first
    if first_commits:
        first.commit()
    else:
        first.rollback()
    first.close()
    racer.join(10)
    return got
