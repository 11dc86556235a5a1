"""The script store, against SQLite (always) and PostgreSQL (when configured).

Every store test runs against PostgreSQL too, each in a fresh schema dropped afterwards:
the server of ``JUPYTER_SCRIPTING_TEST_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test`` if it answers, else those tests
are skipped (saying so). When the variable is set but the server cannot be reached, they
fail (they do not skip).

The ``async def`` tests run on the ``jp_asyncio_loop`` loop through the pytest-jupyter
plugins that ``conftest.py`` loads; pytest-jupyter runs no async fixtures, so the
``store`` fixture starts and closes the store with ``run_until_complete``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from jupyter_scripting.errors import (
    BadRequest,
    ExecutionNotFound,
    NotFound,
    ScriptNotFound,
    StoreError,
    VersionNotFound,
)
from jupyter_scripting.store import Store
from jupyter_scripting.store.models import Base
from jupyter_scripting.store.records import ExecutionRecord, ExecutionResult, State
from jupyter_scripting.store.seats import SeatsTaken, sync_scope
from jupyter_scripting.store.service import MIGRATIONS_PATH

from .helpers import postgres_schema

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 17, 12, 30, 15, 123456, tzinfo=UTC)
ALICE = "alice"
BOB = "bob"
OLD_ID = "6f9619ff-8b86-4011-b42d-00c04fc964ff"


# -- backends ---------------------------------------------------------------------
@dataclass
class Clock:
    """The store's "now": real time unless a test sets ``now``."""

    now: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.now if self.now is not None else dt.datetime.now(UTC)


@dataclass
class Backend:
    """One database the store tests run against."""

    name: str
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)

    def store(self, **kwargs: Any) -> Store:
        return Store(self.url, connect_args=self.connect_args, **kwargs)

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        """An engine of its own on the same database (to look behind the store's back)."""
        engine = create_engine(self.url, connect_args=self.connect_args, poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgresql_backend() -> Iterator[Backend]:
    """A fresh schema on the configured PostgreSQL server, dropped afterwards."""
    with postgres_schema() as (url, schema):
        yield Backend("postgresql", url, {"options": f"-csearch_path={schema}"})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        # A directory that does not exist yet: the store creates it.
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'db' / 'scripting.sqlite'}")
    else:
        with postgresql_backend() as backend:
            yield backend


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(
    backend: Backend, clock: Clock, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> Iterator[Store]:
    """A started store (pytest-jupyter runs no async fixtures: start/close by hand)."""
    store = backend.store(clock=clock)
    jp_asyncio_loop.run_until_complete(store.start())
    yield store
    jp_asyncio_loop.run_until_complete(store.close())


# -- helpers ------------------------------------------------------------------------
def notebook(label: str) -> str:
    return json.dumps(
        {"cells": [], "metadata": {"label": label}, "nbformat": 4, "nbformat_minor": 5}
    )


def result(
    state: State = "finished",
    *,
    status_code: int = 200,
    content: bytes = b"",
    started_at: dt.datetime = T0,
    duration_ms: float = 12.5,
    **kwargs: Any,
) -> ExecutionResult:
    values: dict[str, Any] = {
        "reason": None,
        "content_type": "application/json",
        "notebook": notebook("executed"),
    }
    values.update(kwargs)
    return ExecutionResult(
        state=state,
        status_code=status_code,
        content=content,
        started_at=started_at,
        finished_at=started_at + dt.timedelta(milliseconds=duration_ms),
        duration_ms=duration_ms,
        **values,
    )


async def run(
    store: Store,
    script_id: str,
    version: int = 1,
    *,
    tenant: str = ALICE,
    state: State = "running",
    finish: State | None = "finished",
) -> ExecutionRecord:
    """Log one run (finished unless ``finish`` is None) and return its created record."""
    record = await store.create_execution(
        execution_id=str(uuid.uuid4()),
        tenant=tenant,
        script_id=script_id,
        version=version,
        mode="sync",
        method="POST",
        state=state,
    )
    if finish is not None:
        await store.finish_execution(record.id, result(finish))
    return record


def assert_utc(value: dt.datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == dt.timedelta(0)


def count_rows(backend: Backend, table: str, script_id: str) -> int:
    with backend.engine() as engine, engine.connect() as connection:
        column = "id" if table == "scripts" else "script_id"
        return connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": script_id}
        ).scalar_one()


MALFORMED_IDS = [
    "",
    "not-a-uuid",
    "1",
    "' OR 1=1 --",
    "6F9619FF-8B86-D011-B42D-00C04FC964FF",  # upper case
    "6f9619ff8b86d011b42d00c04fc964ff",  # no hyphens
    "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
    "urn:uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff",
    " 6f9619ff-8b86-d011-b42d-00c04fc964ff",
]


# -- schema ---------------------------------------------------------------------------
async def test_migrations_create_the_schema_and_are_idempotent(
    backend: Backend, store: Store
) -> None:
    await store.start()  # again: nothing to do
    second = backend.store()
    await second.start()
    await second.close()

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head == "0011"
    with backend.engine() as engine, engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert {"scripts", "script_versions", "executions", "alembic_version"} <= tables
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [row[0] for row in versions] == [head]
        # The hand-written migration creates exactly what the models describe.
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        if backend.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'executions'"
            ).scalar_one()
            assert "AUTOINCREMENT" in sql


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    return config


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_PATH / "env.py").is_file()
    assert (MIGRATIONS_PATH / "script.py.mako").is_file()
    assert (MIGRATIONS_PATH / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_PATH / "versions" / "0002_background_runs.py").is_file()
    assert (MIGRATIONS_PATH / "versions" / "0003_api_keys.py").is_file()


async def test_in_memory_sqlite_works() -> None:
    store = Store("sqlite://")
    await store.start()
    try:
        script = await store.create_script(ALICE, "memory", notebook("1"))
        assert (await store.get_script(ALICE, script.id)).name == "memory"
    finally:
        await store.close()


# -- scripts --------------------------------------------------------------------------
async def test_create_and_get_script(store: Store) -> None:
    before = dt.datetime.now(UTC)
    created = await store.create_script(ALICE, "hello", notebook("v1"))
    assert str(uuid.UUID(created.id)) == created.id
    assert (created.tenant, created.name, created.version, created.timeout) == (
        ALICE,
        "hello",
        1,
        None,
    )
    assert_utc(created.created_at)
    assert created.created_at == created.updated_at
    assert before <= created.created_at <= dt.datetime.now(UTC)

    fetched = await store.get_script(ALICE, created.id)
    assert fetched == created  # microseconds and time zone survive the round trip
    assert_utc(fetched.updated_at)

    script, version, text_ = await store.get_notebook(ALICE, created.id)
    assert (script, version, text_) == (created, 1, notebook("v1"))


async def test_list_scripts_pages_most_recently_updated_first(store: Store, clock: Clock) -> None:
    ids = []
    for i in range(5):
        clock.now = T0 + dt.timedelta(seconds=i)
        ids.append((await store.create_script(ALICE, f"s{i}", notebook(str(i)))).id)
    clock.now = T0 + dt.timedelta(minutes=1)
    await store.update_script(ALICE, ids[1], name="touched")
    expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]

    everything, more = await store.list_scripts(ALICE, limit=100, offset=0)
    assert [s.id for s in everything] == expected
    assert not more
    page, more = await store.list_scripts(ALICE, limit=2, offset=0)
    assert [s.id for s in page] == expected[:2]
    assert more
    page, more = await store.list_scripts(ALICE, limit=3, offset=2)
    assert [s.id for s in page] == expected[2:]
    assert not more  # exactly at the end
    page, more = await store.list_scripts(ALICE, limit=2, offset=4)
    assert [s.id for s in page] == expected[4:]
    assert not more
    page, more = await store.list_scripts(ALICE, limit=0, offset=0)
    assert (page, more) == ([], True)
    assert await store.list_scripts(ALICE, limit=10, offset=10) == ([], False)
    assert await store.list_scripts("nobody", limit=10, offset=0) == ([], False)

    # Same updated_at: ties are ordered by id, so pages never overlap.
    clock.now = T0 + dt.timedelta(hours=1)
    tied = sorted([(await store.create_script(BOB, "t", notebook("t"))).id for _ in range(4)])
    first, _ = await store.list_scripts(BOB, limit=2, offset=0)
    second, _ = await store.list_scripts(BOB, limit=2, offset=2)
    assert [s.id for s in first + second] == tied

    with pytest.raises(BadRequest):
        await store.list_scripts(ALICE, limit=-1, offset=0)
    with pytest.raises(BadRequest):
        await store.list_scripts(ALICE, limit=1, offset=-1)


async def test_other_tenants_see_nothing(store: Store) -> None:
    script = await store.create_script(ALICE, "private", notebook("1"))
    execution = await run(store, script.id)

    assert await store.list_scripts(BOB, limit=10, offset=0) == ([], False)
    calls = [
        store.get_script(BOB, script.id),
        store.get_notebook(BOB, script.id),
        store.get_notebook(BOB, script.id, 1),
        store.add_version(BOB, script.id, notebook("2")),
        store.update_script(BOB, script.id, name="stolen"),
        store.delete_script(BOB, script.id),
        store.list_executions(BOB, script.id),
        store.get_execution(BOB, script.id, execution.id),
        store.get_execution_notebook(BOB, script.id, execution.id),
    ]
    for call in calls:
        with pytest.raises(ScriptNotFound) as info:
            await call
        assert info.value.status == 404
    with pytest.raises(ScriptNotFound):
        await run(store, script.id, tenant=BOB)

    # Nothing changed for the owner.
    assert await store.get_script(ALICE, script.id) == script
    executions, _ = await store.list_executions(ALICE, script.id)
    assert [e.id for e in executions] == [execution.id]


async def test_malformed_ids_are_not_found_without_a_query(tmp_path: Path) -> None:
    # Any query on this store would fail with StoreError: NotFound proves none was made.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = Store(f"sqlite:///{blocker / 'db.sqlite'}")
    good = str(uuid.uuid4())
    try:
        for bad in MALFORMED_IDS:
            script_calls = [
                store.get_script(ALICE, bad),
                store.get_notebook(ALICE, bad),
                store.add_version(ALICE, bad, notebook("x")),
                store.update_script(ALICE, bad, name="x"),
                store.delete_script(ALICE, bad),
                store.list_executions(ALICE, bad),
                store.get_execution(ALICE, bad, good),
                store.get_execution_notebook(ALICE, bad, good),
                store.create_execution(
                    execution_id=good,
                    tenant=ALICE,
                    script_id=bad,
                    version=1,
                    mode="sync",
                    method="GET",
                ),
            ]
            for call in script_calls:
                with pytest.raises(ScriptNotFound):
                    await call
            for call in [
                store.get_execution(ALICE, good, bad),
                store.get_execution_notebook(ALICE, good, bad),
                store.finish_execution(bad, result()),
            ]:
                with pytest.raises(ExecutionNotFound):
                    await call
        with pytest.raises(StoreError):  # while a well-formed id does query
            await store.get_script(ALICE, good)
    finally:
        await store.close()


async def test_malformed_ids_on_a_working_store(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("1"))
    execution = await run(store, script.id)
    with pytest.raises(ScriptNotFound):
        await store.get_script(ALICE, script.id.upper())
    with pytest.raises(ExecutionNotFound):
        await store.get_execution(ALICE, script.id, execution.id.upper())
    with pytest.raises(ScriptNotFound):
        await store.get_script(ALICE, str(uuid.uuid4()))  # well-formed but unknown


async def test_add_version_increments_and_keeps_old_notebooks(store: Store, clock: Clock) -> None:
    clock.now = T0
    script = await store.create_script(ALICE, "s", notebook("v1"))
    clock.now = T0 + dt.timedelta(seconds=5)
    second = await store.add_version(ALICE, script.id, notebook("v2"))
    assert (second.version, second.name) == (2, "s")
    assert second.created_at == script.created_at
    assert second.updated_at == T0 + dt.timedelta(seconds=5)

    third = await store.add_version(ALICE, script.id, notebook("v3"), name="renamed")
    assert (third.version, third.name) == (3, "renamed")
    assert await store.get_script(ALICE, script.id) == third

    for version in (1, 2, 3):
        record, got, text_ = await store.get_notebook(ALICE, script.id, version)
        assert (record, got, text_) == (third, version, notebook(f"v{version}"))
    assert (await store.get_notebook(ALICE, script.id))[1:] == (3, notebook("v3"))
    for missing in (0, 4, -1):
        with pytest.raises(VersionNotFound):
            await store.get_notebook(ALICE, script.id, missing)


async def test_concurrent_add_version_never_loses_a_version(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    records = await asyncio.gather(
        *(store.add_version(ALICE, script.id, notebook(f"c{i}")) for i in range(12))
    )
    assert sorted(r.version for r in records) == list(range(2, 14))
    assert (await store.get_script(ALICE, script.id)).version == 13
    for record in records:
        _, _, text_ = await store.get_notebook(ALICE, script.id, record.version)
        assert json.loads(text_)["metadata"]["label"].startswith("c")


async def test_update_script_renames_and_sets_or_clears_the_timeout(
    store: Store, clock: Clock
) -> None:
    clock.now = T0
    script = await store.create_script(ALICE, "old", notebook("v1"))

    clock.now = T0 + dt.timedelta(seconds=1)
    renamed = await store.update_script(ALICE, script.id, name="new")
    assert (renamed.name, renamed.timeout, renamed.version) == ("new", None, 1)
    assert renamed.updated_at == clock.now
    assert renamed.created_at == script.created_at

    timed = await store.update_script(ALICE, script.id, timeout=2.5)
    assert (timed.name, timed.timeout) == ("new", 2.5)
    both = await store.update_script(ALICE, script.id, name="both", timeout=30)
    assert (both.name, both.timeout) == ("both", 30.0)
    kept = await store.update_script(ALICE, script.id, name="kept")
    assert kept.timeout == 30.0
    cleared = await store.update_script(ALICE, script.id, timeout=None)
    assert (cleared.name, cleared.timeout, cleared.version) == ("kept", None, 1)
    assert await store.get_script(ALICE, script.id) == cleared

    with pytest.raises(BadRequest):
        await store.update_script(ALICE, script.id, name=42)
    with pytest.raises(BadRequest):
        await store.update_script(ALICE, script.id, timeout="soon")
    with pytest.raises(BadRequest):
        await store.update_script(ALICE, script.id, name="x" * 256)


async def test_delete_script_removes_versions_and_executions(
    backend: Backend, store: Store
) -> None:
    script = await store.create_script(ALICE, "doomed", notebook("v1"))
    await store.add_version(ALICE, script.id, notebook("v2"))
    execution = await run(store, script.id, 2)
    survivor = await store.create_script(ALICE, "survivor", notebook("v1"))
    kept = await run(store, survivor.id)

    await store.delete_script(ALICE, script.id)

    for table in ("scripts", "script_versions", "executions"):
        assert count_rows(backend, table, script.id) == 0
    with pytest.raises(ScriptNotFound):
        await store.get_script(ALICE, script.id)
    with pytest.raises(ScriptNotFound):
        await store.get_execution(ALICE, script.id, execution.id)
    with pytest.raises(ScriptNotFound):
        await store.delete_script(ALICE, script.id)
    listed, _ = await store.list_scripts(ALICE, limit=10, offset=0)
    assert [s.id for s in listed] == [survivor.id]
    assert (await store.get_execution(ALICE, survivor.id, kept.id))[0].id == kept.id


# -- executions ------------------------------------------------------------------------
async def test_execution_lifecycle(store: Store, clock: Clock) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    clock.now = T0
    execution_id = str(uuid.uuid4())
    created = await store.create_execution(
        execution_id=execution_id,
        tenant=ALICE,
        script_id=script.id,
        version=1,
        mode="background",
        method="PUT",
    )
    assert created.id == execution_id
    assert (created.script_id, created.version, created.tenant) == (script.id, 1, ALICE)
    assert (created.mode, created.method, created.state) == ("background", "PUT", "running")
    assert (created.status_code, created.reason, created.content_type) == (None, None, None)
    assert created.created_at == created.started_at == T0
    assert created.finished_at is None
    assert created.duration_ms is None

    record, content = await store.get_execution(ALICE, script.id, execution_id)
    assert (record, content) == (created, b"")
    assert await store.get_execution_notebook(ALICE, script.id, execution_id) == (created, None)

    # Aware datetimes in another zone come back as the same instants, in UTC.
    paris = dt.timezone(dt.timedelta(hours=2))
    started = dt.datetime(2024, 5, 17, 14, 30, 15, 654321, tzinfo=paris)
    payload = bytes(range(256)) * 4
    await store.finish_execution(
        execution_id,
        result(
            "failed",
            status_code=502,
            reason="script-error",
            content_type="application/octet-stream",
            content=payload,
            started_at=started,
            duration_ms=1500.25,
        ),
    )
    record, content = await store.get_execution(ALICE, script.id, execution_id)
    assert content == payload
    assert (record.state, record.status_code, record.reason) == ("failed", 502, "script-error")
    assert record.content_type == "application/octet-stream"
    assert record.duration_ms == 1500.25
    assert record.created_at == T0
    assert record.started_at == started
    assert record.finished_at == started + dt.timedelta(milliseconds=1500.25)
    for value in (record.created_at, record.started_at, record.finished_at):
        assert_utc(value)
    assert record.started_at is not None
    assert record.started_at.microsecond == 654321
    assert record.started_at.hour == 12  # 14:30+02:00

    same, text_ = await store.get_execution_notebook(ALICE, script.id, execution_id)
    assert (same, text_) == (record, notebook("executed"))
    listed, more = await store.list_executions(ALICE, script.id)
    assert (listed, more) == ([record], False)


async def test_queued_execution_has_not_started(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    queued = await run(store, script.id, state="queued", finish=None)
    assert queued.state == "queued"
    assert queued.started_at is None
    assert_utc(queued.created_at)


async def test_create_and_finish_execution_errors(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    for version in (0, 2):
        with pytest.raises(VersionNotFound):
            await run(store, script.id, version)
    with pytest.raises(ScriptNotFound):
        await run(store, str(uuid.uuid4()))
    with pytest.raises(ExecutionNotFound):
        await store.finish_execution(str(uuid.uuid4()), result())
    with pytest.raises(ValueError, match="canonical UUID"):
        await store.create_execution(
            execution_id="nope",
            tenant=ALICE,
            script_id=script.id,
            version=1,
            mode="sync",
            method="GET",
        )

    execution = await run(store, script.id)
    with pytest.raises(StoreError, match=r"^The script store failed: ") as info:
        await store.create_execution(  # the same id twice
            execution_id=execution.id,
            tenant=ALICE,
            script_id=script.id,
            version=1,
            mode="sync",
            method="GET",
        )
    assert isinstance(info.value.__cause__, SQLAlchemyError)


async def test_executions_are_listed_newest_first_even_in_the_same_instant(
    store: Store, clock: Clock
) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    clock.now = T0  # every run lands in the very same microsecond
    created = [await run(store, script.id, finish=None) for _ in range(12)]
    clock.now = T0 - dt.timedelta(seconds=1)  # an older one inserted last
    older = await run(store, script.id)
    clock.now = None
    newest = await run(store, script.id)

    expected = [newest.id] + [e.id for e in reversed(created)] + [older.id]
    listed, more = await store.list_executions(ALICE, script.id)
    assert [e.id for e in listed] == expected
    assert not more

    pages = []
    for offset in range(0, 14, 5):
        page, more = await store.list_executions(ALICE, script.id, limit=5, offset=offset)
        pages.extend(e.id for e in page)
        assert more == (offset + 5 < 14)
    assert pages == expected
    page, more = await store.list_executions(ALICE, script.id, limit=4, offset=10)
    assert ([e.id for e in page], more) == (expected[10:], False)
    with pytest.raises(BadRequest):
        await store.list_executions(ALICE, script.id, limit=-5)


async def test_list_executions_filters_by_version(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    v1 = [(await run(store, script.id, 1)).id for _ in range(2)]
    await store.add_version(ALICE, script.id, notebook("v2"))
    v2 = [(await run(store, script.id, 2)).id for _ in range(3)]
    v1.append((await run(store, script.id, 1)).id)  # old versions can still run

    async def ids(version: Any) -> list[str]:
        records, _ = await store.list_executions(ALICE, script.id, version=version)
        assert all(r.script_id == script.id for r in records)
        return [r.id for r in records]

    assert await ids(None) == v2[::-1]
    assert await ids(2) == v2[::-1]
    assert await ids(1) == v1[::-1]
    assert set(await ids("all")) == set(v1 + v2)
    assert (await ids("all"))[0] == v1[-1]

    await store.add_version(ALICE, script.id, notebook("v3"))
    assert await ids(None) == []  # the latest version has no runs yet
    assert await ids(3) == []
    for missing in (4, 0):
        with pytest.raises(VersionNotFound):
            await ids(missing)
    with pytest.raises(BadRequest):
        await ids("latest")
    with pytest.raises(ScriptNotFound):
        await store.list_executions(ALICE, str(uuid.uuid4()))


async def test_executions_are_scoped_by_script(store: Store) -> None:
    first = await store.create_script(ALICE, "first", notebook("1"))
    second = await store.create_script(ALICE, "second", notebook("2"))
    execution = await run(store, first.id)
    with pytest.raises(ExecutionNotFound):
        await store.get_execution(ALICE, second.id, execution.id)
    with pytest.raises(ExecutionNotFound):
        await store.get_execution_notebook(ALICE, second.id, execution.id)
    with pytest.raises(ExecutionNotFound):
        await store.get_execution(ALICE, first.id, str(uuid.uuid4()))
    assert await store.list_executions(ALICE, second.id) == ([], False)
    with pytest.raises(NotFound):
        await store.get_execution(ALICE, str(uuid.uuid4()), execution.id)


async def test_last_executions_are_the_first_entries_of_every_versions_log(
    store: Store, clock: Clock
) -> None:
    first = await store.create_script(ALICE, "first", notebook("1"))
    second = await store.create_script(ALICE, "second", notebook("2"))
    never = await store.create_script(ALICE, "never run", notebook("3"))
    theirs = await store.create_script(BOB, "theirs", notebook("4"))
    clock.now = T0 - dt.timedelta(minutes=1)
    await run(store, first.id)
    await store.add_version(ALICE, first.id, notebook("1b"))
    clock.now = T0
    await run(store, first.id, 2)
    newest = await run(store, first.id, 2, finish=None)  # same instant: seq breaks the tie
    clock.now = T0 - dt.timedelta(seconds=1)
    await run(store, first.id, 1)  # recorded last, but dated before: not the newest
    clock.now = None
    on_second = await run(store, second.id, finish="failed")
    await run(store, theirs.id, tenant=BOB)

    ids = [first.id, second.id, never.id, theirs.id]
    last = await store.last_executions(ALICE, ids)
    assert set(last) == {first.id, second.id}  # never run, or another tenant's: absent
    assert last[first.id].id == newest.id and last[first.id].state == "running"
    assert last[second.id].id == on_second.id and last[second.id].state == "failed"
    listed, _ = await store.list_executions(ALICE, first.id, version="all")
    assert listed[0].id == newest.id
    assert await store.last_executions(ALICE, []) == {}


# -- pruning ---------------------------------------------------------------------------
async def test_prune_by_age(store: Store, clock: Clock) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    clock.now = T0 - dt.timedelta(days=10)
    old_finished = await run(store, script.id)
    old_failed = await run(store, script.id, finish="failed")
    old_running = await run(store, script.id, finish=None)
    old_queued = await run(store, script.id, state="queued", finish=None)
    clock.now = T0
    recent = await run(store, script.id)

    assert await store.prune_executions(older_than=None, keep_per_script=None) == 0
    cutoff = T0 - dt.timedelta(days=1)
    assert await store.prune_executions(older_than=cutoff, keep_per_script=None) == 2
    remaining, _ = await store.list_executions(ALICE, script.id)
    assert {e.id for e in remaining} == {old_running.id, old_queued.id, recent.id}
    for gone in (old_finished, old_failed):
        with pytest.raises(ExecutionNotFound):
            await store.get_execution(ALICE, script.id, gone.id)
    assert await store.prune_executions(older_than=cutoff, keep_per_script=None) == 0
    # A naive cutoff is taken as UTC.
    naive = (T0 + dt.timedelta(seconds=1)).replace(tzinfo=None)
    assert await store.prune_executions(older_than=naive, keep_per_script=None) == 1


async def test_prune_keeps_the_newest_per_script(store: Store, clock: Clock) -> None:
    busy = await store.create_script(ALICE, "busy", notebook("1"))
    await store.add_version(ALICE, busy.id, notebook("2"))
    quiet = await store.create_script(BOB, "quiet", notebook("1"))
    clock.now = T0
    # Same instant for all: the insertion order decides which are the newest.
    busy_runs = [await run(store, busy.id, 1 + i % 2) for i in range(6)]
    running = await run(store, busy.id, 2, finish=None)
    quiet_runs = [await run(store, quiet.id, tenant=BOB) for _ in range(2)]

    assert await store.prune_executions(older_than=None, keep_per_script=3) == 3
    remaining, _ = await store.list_executions(ALICE, busy.id, version="all")
    assert [e.id for e in remaining] == [running.id] + [e.id for e in busy_runs[:2:-1]]
    quiet_left, _ = await store.list_executions(BOB, quiet.id, version="all")
    assert [e.id for e in quiet_left] == [e.id for e in quiet_runs[::-1]]

    # Both limits together: what either of them condemns goes.
    clock.now = T0 + dt.timedelta(days=3)
    fresh = await run(store, busy.id, 2)
    deleted = await store.prune_executions(older_than=T0 + dt.timedelta(days=1), keep_per_script=2)
    assert deleted == 3 + 2  # busy: 3 old finished; quiet: its 2 old ones
    remaining, _ = await store.list_executions(ALICE, busy.id, version="all")
    assert [e.id for e in remaining] == [fresh.id, running.id]

    assert await store.prune_executions(older_than=None, keep_per_script=0) == 1
    with pytest.raises(ValueError, match="keep_per_script"):
        await store.prune_executions(older_than=None, keep_per_script=-1)


# -- failures ----------------------------------------------------------------------------
async def test_unusable_sqlite_path_is_a_store_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    store = Store(f"sqlite:///{blocker / 'sub' / 'db.sqlite'}")
    try:
        with pytest.raises(StoreError, match=r"^The script store failed: ") as info:
            await store.start()
        assert isinstance(info.value.__cause__, OSError)
        assert info.value.status == 500
    finally:
        await store.close()
    assert any(
        r.name == "jupyter_scripting.store" and r.levelno == logging.ERROR and r.exc_info
        for r in caplog.records
    )


async def test_a_dropped_table_is_a_store_error(
    backend: Backend, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    script = await store.create_script(ALICE, "s", notebook("1"))
    execution = await run(store, script.id)
    with backend.engine() as engine, engine.begin() as connection:
        # (CASCADE: PostgreSQL drops the seats' foreign key with it; SQLite has none to keep)
        cascade = " CASCADE" if backend.name == "postgresql" else ""
        connection.execute(text(f"DROP TABLE executions{cascade}"))

    calls = [
        store.list_executions(ALICE, script.id),
        store.get_execution(ALICE, script.id, execution.id),
        store.finish_execution(execution.id, result()),
        store.prune_executions(older_than=T0, keep_per_script=None),
        run(store, script.id),
    ]
    for call in calls:
        with pytest.raises(StoreError, match=r"^The script store failed: ") as info:
            await call
        assert isinstance(info.value.__cause__, SQLAlchemyError)
    assert await store.get_script(ALICE, script.id) == script  # the rest still works
    logged = [r for r in caplog.records if r.name == "jupyter_scripting.store"]
    assert len(logged) == len(calls)
    assert all(r.levelno == logging.ERROR and r.exc_info for r in logged)


async def test_unreachable_postgresql_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    # Port 1 on the loopback: refused at once.
    store = Store(
        "postgresql+psycopg://nobody@127.0.0.1:1/nothing", connect_args={"connect_timeout": 5}
    )
    try:
        with pytest.raises(StoreError, match=r"^The script store failed: ") as info:
            await store.start()
        assert isinstance(info.value.__cause__, SQLAlchemyError)
    finally:
        await store.close()


async def test_a_closed_store_refuses_work(store: Store) -> None:
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.list_scripts(ALICE, limit=1, offset=0)


# -- upgrades -------------------------------------------------------------------------
async def test_upgrade_from_0001_keeps_the_data(backend: Backend) -> None:
    """A store created by the first release is upgraded in place by Alembic."""
    if backend.name == "sqlite":
        Path(make_url(backend.url).database or "").parent.mkdir(parents=True, exist_ok=True)
    with backend.engine() as engine, engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO scripts (id, tenant, name, latest_version, created_at, updated_at)"
                " VALUES (:id, :tenant, 'old', 1, :now, :now)"
            ),
            {"id": OLD_ID, "tenant": ALICE, "now": T0.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO script_versions (script_id, version, notebook, created_at)"
                " VALUES (:id, 1, :nb, :now)"
            ),
            {"id": OLD_ID, "nb": notebook("old"), "now": T0.replace(tzinfo=None)},
        )
    store = backend.store()
    await store.start()
    try:
        assert (await store.get_script(ALICE, OLD_ID)).name == "old"
        record = await store.create_execution(
            execution_id=str(uuid.uuid4()),
            tenant=ALICE,
            script_id=OLD_ID,
            version=1,
            mode="background",
            method="POST",
            state="queued",
            request=b"{}",
        )
        claimed = await store.claim_background_run("node-a", 10)
        assert claimed is not None
        assert claimed.execution.id == record.id
    finally:
        await store.close()


# -- the background queue ---------------------------------------------------------------
async def queue(store: Store, script_id: str, tenant: str = ALICE, request: bytes = b"{}") -> str:
    record = await store.create_execution(
        execution_id=str(uuid.uuid4()),
        tenant=tenant,
        script_id=script_id,
        version=1,
        mode="background",
        method="POST",
        state="queued",
        request=request,
    )
    assert record.state == "queued"
    assert record.started_at is None
    return record.id


async def test_claim_takes_queued_runs_oldest_first_within_the_limit(
    backend: Backend, store: Store
) -> None:
    script = await store.create_script(ALICE, "bg", notebook("v1"))
    await store.update_script(ALICE, script.id, timeout=12.0)
    ids = [await queue(store, script.id, request=f'{{"n": {i}}}'.encode()) for i in range(3)]
    assert await store.count_background() == (3, 0)

    first = await store.claim_background_run("node-a", 2)
    assert first is not None
    assert first.execution.id == ids[0]
    assert first.execution.state == "running"
    assert_utc(first.execution.started_at)
    assert first.request == b'{"n": 0}'
    assert json.loads(first.notebook)["metadata"]["label"] == "v1"
    assert first.script_timeout == 12.0
    second = await store.claim_background_run("node-a", 2)
    assert second is not None
    assert second.execution.id == ids[1]
    # Two running: the limit holds, whichever node asks.
    assert await store.claim_background_run("node-b", 2) is None
    assert await store.count_background() == (1, 2)

    await store.finish_execution(first.execution.id, result())
    third = await store.claim_background_run("node-b", 2)
    assert third is not None
    assert third.execution.id == ids[2]
    assert await store.claim_background_run("node-b", 2) is None  # nothing queued
    # The request is not kept once the run has ended.
    with backend.engine() as engine, engine.connect() as connection:
        kept = connection.execute(
            text("SELECT request FROM executions WHERE id = :id"), {"id": first.execution.id}
        ).scalar_one()
    assert kept is None


async def test_claim_is_fair_between_tenants(store: Store) -> None:
    alice = await store.create_script(ALICE, "a", notebook("a"))
    bob = await store.create_script(BOB, "b", notebook("b"))
    for _ in range(20):
        await queue(store, alice.id, ALICE)
    bobs = await queue(store, bob.id, BOB)
    taken = []
    for _ in range(3):
        claimed = await store.claim_background_run("node-a", 3)
        assert claimed is not None
        taken.append(claimed.execution.tenant)
    # Bob's single run starts second, ahead of Alice's nineteen older ones.
    assert taken == [ALICE, BOB, ALICE]
    assert bobs


async def test_mark_interrupted_only_touches_this_nodes_running_runs(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("s"))
    queued = await queue(store, script.id)
    mine = await store.claim_background_run("node-a", 10)
    assert mine is not None
    other_queued = await queue(store, script.id)
    theirs = await store.claim_background_run("node-b", 10)
    assert theirs is not None
    sync_mine = await store.create_execution(
        execution_id=str(uuid.uuid4()),
        tenant=ALICE,
        script_id=script.id,
        version=1,
        mode="sync",
        method="GET",
        node="node-a",
    )
    count = await store.mark_interrupted("node-a", lambda i: json.dumps({"id": i}).encode())
    assert count == 2
    for execution_id in (mine.execution.id, sync_mine.id):
        record, content = await store.get_execution(ALICE, script.id, execution_id)
        assert record.state == "failed"
        assert record.status_code == 500
        assert record.reason == "interrupted"
        assert json.loads(content) == {"id": execution_id}
    other, _ = await store.get_execution(ALICE, script.id, theirs.execution.id)
    assert other.state == "running"
    assert queued != other_queued
    assert await store.count_background() == (0, 1)


# -- several nodes: seats and the reaper --------------------------------------------------


async def _sync_run(store: Store, script_id: str, node: str, slots: int) -> str:
    execution_id = str(uuid.uuid4())
    await store.create_execution(
        execution_id=execution_id,
        tenant=ALICE,
        script_id=script_id,
        version=1,
        mode="sync",
        method="POST",
        node=node,
        seat=(sync_scope(ALICE), slots),
    )
    return execution_id


async def test_seats_make_a_limit_exact_and_come_back_with_the_run(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("1"))
    first, _ = [await _sync_run(store, script.id, "n", 2) for _ in range(2)]
    with pytest.raises(SeatsTaken):
        await _sync_run(store, script.id, "n", 2)
    logged, _ = await store.list_executions(ALICE, script.id)
    assert len(logged) == 2  # the refused run left no log
    assert await store.finish_execution(first, result()) is True
    await _sync_run(store, script.id, "n", 2)  # its seat is free again
    with pytest.raises(SeatsTaken):
        await _sync_run(store, script.id, "n", 2)


async def test_log_run_reads_the_latest_version_and_logs_it_in_one_go(store: Store) -> None:
    script = await store.create_script(ALICE, "s", notebook("v1"))
    await store.add_version(ALICE, script.id, notebook("v2"))

    def log(tenant: str = ALICE, mode: Any = "sync", **kwargs: Any) -> Any:
        return store.log_run(
            execution_id=str(uuid.uuid4()),
            tenant=tenant,
            script_id=script.id,
            mode=mode,
            method="POST",
            node="n",
            **kwargs,
        )

    record, execution, text = await log(seat=(sync_scope(ALICE), 1), with_notebook=True)
    assert (record.id, record.version, execution.version) == (script.id, 2, 2)
    assert text == notebook("v2")
    assert execution.state == "running" and execution.started_at is not None
    with pytest.raises(SeatsTaken):  # the one seat is held: nothing is logged
        await log(seat=(sync_scope(ALICE), 1))
    queued = await log(state="queued", mode="background", request=b"{}")
    assert queued[1].state == "queued" and queued[2] is None  # no notebook asked for
    with pytest.raises(ScriptNotFound):  # another tenant's script
        await log(tenant=BOB)
    logged, _ = await store.list_executions(ALICE, script.id)
    assert len(logged) == 2


async def test_the_reaper_ends_a_silent_nodes_runs_and_frees_their_seats(
    store: Store, clock: Clock
) -> None:
    script = await store.create_script(ALICE, "s", notebook("1"))
    clock.now = T0
    await store.register_node("ghost", "start-1", "server")
    await store.register_node("slow", "start-1", "server")
    lost = await _sync_run(store, script.id, "ghost", 5)
    late = await _sync_run(store, script.id, "slow", 5)
    clock.now = T0 + dt.timedelta(seconds=31)
    assert await store.heartbeat("slow", "start-1", "server") == "alive"

    reaped = await store.reap(
        node_timeout=20,
        deadlines={"sync": 10.0, "background": 100.0},
        lost=lambda i: json.dumps({"reason": "node-lost", "id": i}).encode(),
        overdue=lambda i: json.dumps({"reason": "timeout", "id": i}).encode(),
    )
    assert (reaped.nodes, reaped.lost, reaped.overdue) == (["ghost"], [lost], [late])
    record, content = await store.get_execution(ALICE, script.id, lost)
    assert (record.state, record.status_code, record.reason) == ("failed", 500, "node-lost")
    assert json.loads(content) == {"reason": "node-lost", "id": lost}
    record, _ = await store.get_execution(ALICE, script.id, late)
    assert (record.state, record.status_code, record.reason) == ("failed", 504, "timeout")
    assert [n.name for n in await store.list_nodes()] == ["slow"]
    for _ in range(5):  # every seat is free again
        await _sync_run(store, script.id, "slow", 5)

    # The lost node's late result does not overwrite its log; the node comes back.
    assert await store.finish_execution(lost, result()) is False
    record, _ = await store.get_execution(ALICE, script.id, lost)
    assert record.reason == "node-lost"
    assert await store.heartbeat("ghost", "start-1", "server") == "lost"
    assert await store.heartbeat("ghost", "start-1", "server") == "alive"
    await store.register_node("ghost", "start-2", "server")  # started again: takes over
    assert await store.heartbeat("ghost", "start-1", "server") == "taken"
