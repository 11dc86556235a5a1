"""The store service: scripts, versions and executions in SQL (SQLite or PostgreSQL).

INTERFACE CONTRACT (the handlers and the runner are written against exactly this):

- ``Store(url)`` builds the SQLAlchemy 2 engine; ``await store.start()`` runs the Alembic
  migrations to head (in a thread) and ``await store.close()`` disposes the engine and
  the store's thread pool.
- Every public method is ``async`` and runs its blocking SQLAlchemy work in the store's
  own ``ThreadPoolExecutor`` (never on the event loop).
- Every lookup is scoped by ``tenant``: another tenant's script or execution raises
  ``ScriptNotFound`` / ``ExecutionNotFound`` exactly as a missing one would.
- Ids are UUID strings (already validated by the caller, but never trusted: a value
  that is not a canonical UUID raises the matching NotFound without a query).
- Database failures raise ``jupyter_scripting.errors.StoreError`` with a message
  (the original exception chained, logged with its traceback).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import os
import uuid
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnElement, create_engine, delete, event, func, or_, select, text, update
from sqlalchemy.engine import URL, CursorResult, Engine, make_url
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .. import rules
from ..errors import (
    ApiKeyNotFound,
    BadRequest,
    ExecutionNotFound,
    ScriptNotFound,
    StoreError,
    StoreMisconfigured,
    VersionNotFound,
)
from ..execution.queue import TenantQueue, next_in_line
from .models import ApiKey, Execution, Script, ScriptVersion
from .records import (
    ApiKeyRecord,
    ClaimedRun,
    ExecutionRecord,
    ExecutionResult,
    Mode,
    Role,
    ScriptRecord,
    State,
)

UNSET = object()

log = logging.getLogger("jupyter_scripting.store")

#: The Alembic script directory shipped inside the package.
MIGRATIONS_PATH = Path(__file__).resolve().with_name("migrations")

#: Key of the PostgreSQL advisory lock that serializes concurrent migrations.
_MIGRATION_LOCK_KEY = zlib.crc32(b"jupyter_scripting.store.migrations")

_MODES: tuple[str, ...] = get_args(Mode)
_STATES: tuple[str, ...] = get_args(State)
#: Only these executions are ever pruned.
_DONE_STATES = ("finished", "failed")
#: The length of the short text columns (String(255) in models.py).
_TEXT_LENGTH = 255
_SHORT_LENGTH = 16

_T = TypeVar("_T")

#: The columns of an :class:`ExecutionRecord` (never the content or the notebook).
_EXECUTION_COLUMNS = (
    Execution.id,
    Execution.script_id,
    Execution.version,
    Execution.tenant,
    Execution.mode,
    Execution.method,
    Execution.state,
    Execution.status_code,
    Execution.reason,
    Execution.created_at,
    Execution.started_at,
    Execution.finished_at,
    Execution.duration_ms,
    Execution.content_type,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _truncate(value: str | None, length: int) -> str | None:
    return value if value is None else value[:length]


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _script_record(script: Script) -> ScriptRecord:
    return ScriptRecord(
        id=script.id,
        tenant=script.tenant,
        name=script.name,
        version=script.latest_version,
        created_at=script.created_at,
        updated_at=script.updated_at,
        timeout=script.timeout,
    )


def _execution_record(row: Any) -> ExecutionRecord:
    """The record of an :class:`Execution` object or of a row of ``_EXECUTION_COLUMNS``."""
    return ExecutionRecord(
        id=row.id,
        script_id=row.script_id,
        version=row.version,
        tenant=row.tenant,
        mode=cast(Mode, row.mode),
        method=row.method,
        state=cast(State, row.state),
        status_code=row.status_code,
        reason=row.reason,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        content_type=row.content_type,
    )


def _api_key_record(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key.id,
        tenant=key.tenant,
        user=key.user,
        role=cast(Role, key.role),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


_EXAMPLE_URLS = "e.g. sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
#: Seconds to wait for a PostgreSQL connection (unless the URL sets connect_timeout).
_CONNECT_TIMEOUT = 10
#: How to install the driver a URL names, by the module that failed to import.
_DRIVER_INSTALL = {
    "psycopg": "pip install 'jupyter_scripting[postgresql]'",
    "psycopg2": "pip install psycopg2-binary",
}
_LIBPQ_DRIVERS = ("psycopg", "psycopg2")


def _missing_driver(url: URL, exc: ImportError) -> StoreMisconfigured:
    """The server cannot start: the URL's database driver is not installed."""
    if exc.name is None:  # the driver is there but cannot load (e.g. no libpq)
        return StoreMisconfigured(
            f"The store's database driver for {url.drivername} could not be loaded: {exc}"
        )
    module = exc.name.split(".")[0]
    install = _DRIVER_INSTALL.get(module, f"pip install {module}")
    return StoreMisconfigured(
        f"The store's database driver is not installed: {url.drivername} needs the Python "
        f"module {module!r}. Install it with: {install}"
    )


def _failure(what: str, exc: BaseException) -> StoreError:
    """Log ``exc`` with its traceback (call from an ``except`` block) and describe it."""
    log.exception("The script store failed to %s.", what)
    return StoreError(f"The script store failed: could not {what} ({type(exc).__name__}).")


class Store:
    """Scripts, their immutable versions, and the executions of each version."""

    def __init__(
        self,
        url: str,
        *,
        max_workers: int = 4,
        connect_args: Mapping[str, Any] | None = None,
        engine_kwargs: Mapping[str, Any] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """Build the engine for ``url`` (nothing is connected before :meth:`start`).

        ``connect_args`` go to the DB-API ``connect()`` (merged over the SQLite
        defaults), ``engine_kwargs`` to :func:`sqlalchemy.create_engine`; ``clock``
        returns "now" (tests use it to make runs land in the same instant or the past).
        """
        self._clock = clock or _utcnow
        self._closed = False
        self._sqlite_dir: Path | None = None
        try:
            parsed = make_url(url)
        except (SQLAlchemyError, ValueError):
            raise StoreMisconfigured(
                f"ScriptingApp.database_url is not a database URL ({_EXAMPLE_URLS})."
            ) from None
        backend, _, driver = parsed.drivername.partition("+")
        if backend not in ("sqlite", "postgresql"):
            raise StoreMisconfigured(
                f"ScriptingApp.database_url names {backend!r}: the store runs on SQLite or "
                f"PostgreSQL ({_EXAMPLE_URLS})."
            )
        if parsed.drivername == "postgresql":
            # SQLAlchemy's default PostgreSQL driver is psycopg2; ours is psycopg (3).
            parsed = parsed.set(drivername="postgresql+psycopg")
            driver = "psycopg"
        args: dict[str, Any] = {}
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        sqlite = backend == "sqlite"
        if sqlite:
            args.update(check_same_thread=False, timeout=30)
            if self._sqlite_in_memory(parsed):
                # One shared connection, so one thread at a time uses it.
                kwargs["poolclass"] = StaticPool
                max_workers = 1
            elif parsed.database and not parsed.query.get("uri"):
                self._sqlite_dir = Path(parsed.database).parent
        elif driver in _LIBPQ_DRIVERS and "connect_timeout" not in parsed.query:
            # A database that does not answer fails a request in seconds, not minutes.
            args["connect_timeout"] = _CONNECT_TIMEOUT
        args.update(connect_args or {})
        kwargs.update(engine_kwargs or {})
        kwargs["connect_args"] = {**args, **kwargs.get("connect_args", {})}
        try:
            self._engine: Engine = create_engine(parsed, **kwargs)
        except ImportError as exc:
            raise _missing_driver(parsed, exc) from None
        except NoSuchModuleError:
            raise StoreMisconfigured(
                f"ScriptingApp.database_url names a driver SQLAlchemy does not know "
                f"({parsed.drivername!r}; {_EXAMPLE_URLS})."
            ) from None
        except (SQLAlchemyError, TypeError) as exc:
            raise _failure("create the database engine", exc) from exc
        if sqlite:
            event.listen(self._engine, "connect", _sqlite_on_connect)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="scripting-store")

    @property
    def sqlite_directory(self) -> str | None:
        """The directory of the SQLite database file (None: another database, or SQLite
        in memory)."""
        return None if self._sqlite_dir is None else os.path.abspath(self._sqlite_dir)

    @staticmethod
    def _sqlite_in_memory(url: URL) -> bool:
        database = url.database or ""
        return database in ("", ":memory:") or url.query.get("mode") == "memory"

    # -- plumbing ---------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return _as_utc(self._clock())

    async def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` in the store's thread pool; SQLAlchemy errors become StoreError."""
        if self._closed:
            raise StoreError("The script store failed: it is closed.")

        def guarded() -> _T:
            try:
                return fn()
            except SQLAlchemyError as exc:
                raise _failure(what, exc) from exc

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, guarded)

    async def _transact(self, what: str, fn: Callable[[Session], _T]) -> _T:
        """Run ``fn(session)`` in one transaction (committed unless it raises)."""

        def work() -> _T:
            with self._sessions.begin() as session:
                return fn(session)

        return await self._call(what, work)

    @staticmethod
    def _script(
        session: Session, tenant: str, script_id: str, *, for_update: bool = False
    ) -> Script:
        stmt = select(Script).where(Script.id == script_id, Script.tenant == tenant)
        if for_update:
            stmt = stmt.with_for_update()
        script = session.scalars(stmt).one_or_none()
        if script is None:
            raise ScriptNotFound(script_id)
        return script

    def _migrate(self) -> None:
        if self._sqlite_dir is not None:
            try:
                self._sqlite_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _failure("create the directory of the SQLite database", exc) from exc
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_PATH).replace("%", "%%"))
        with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two servers starting at once on one database migrate one after the other.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Create or upgrade the schema with Alembic (``upgrade head``)."""
        await self._call("migrate the database", self._migrate)

    async def close(self) -> None:
        """Dispose of the engine and stop the store's threads."""
        if self._closed:
            return
        self._closed = True

        def shutdown() -> None:
            self._executor.shutdown(wait=True)
            try:
                self._engine.dispose()
            except SQLAlchemyError as exc:
                raise _failure("dispose of the database engine", exc) from exc

        await asyncio.to_thread(shutdown)

    # -- scripts --------------------------------------------------------------
    async def create_script(self, tenant: str, name: str, notebook: str) -> ScriptRecord:
        """A new script at version 1; ``notebook`` is nbformat JSON text."""
        name = rules.script_name(name)

        def work(session: Session) -> ScriptRecord:
            now = self._now()
            script = Script(
                id=str(uuid.uuid4()),
                tenant=tenant,
                name=name,
                latest_version=1,
                timeout=None,
                created_at=now,
                updated_at=now,
            )
            session.add(script)
            session.flush()
            session.add(
                ScriptVersion(script_id=script.id, version=1, notebook=notebook, created_at=now)
            )
            session.flush()
            return _script_record(script)

        return await self._transact("create the script", work)

    async def list_scripts(
        self, tenant: str, *, limit: int, offset: int
    ) -> tuple[list[ScriptRecord], bool]:
        """The tenant's scripts, most recently updated first, and whether more follow."""
        rules.page(limit, offset)

        def work(session: Session) -> tuple[list[ScriptRecord], bool]:
            stmt = (
                select(Script)
                .where(Script.tenant == tenant)
                .order_by(Script.updated_at.desc(), Script.id)
                .limit(limit + 1)
                .offset(offset)
            )
            scripts = session.scalars(stmt).all()
            return [_script_record(s) for s in scripts[:limit]], len(scripts) > limit

        return await self._transact("list the scripts", work)

    async def last_executions(
        self, tenant: str, script_ids: list[str]
    ) -> dict[str, ExecutionRecord]:
        """The newest execution (of any version, in any state) of each of ``tenant``'s
        scripts in ``script_ids`` that has one: one query, for a page of a listing."""
        if not script_ids:
            return {}

        def work(session: Session) -> dict[str, ExecutionRecord]:
            # "Newest" exactly as the log orders them (date, then seq as the tie-breaker),
            # so that it is the first entry of the script's log of every version.
            rank = (
                func.row_number()
                .over(
                    partition_by=Execution.script_id,
                    order_by=(Execution.created_at.desc(), Execution.seq.desc()),
                )
                .label("rank")
            )
            ranked = (
                select(*_EXECUTION_COLUMNS, rank)
                .where(Execution.tenant == tenant, Execution.script_id.in_(script_ids))
                .subquery()
            )
            rows = session.execute(select(ranked).where(ranked.c.rank == 1))
            return {row.script_id: _execution_record(row) for row in rows}

        return await self._transact("read the scripts' last executions", work)

    async def get_script(self, tenant: str, script_id: str) -> ScriptRecord:
        """The script ``script_id`` of ``tenant`` (``ScriptNotFound`` otherwise)."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)

        def work(session: Session) -> ScriptRecord:
            return _script_record(self._script(session, tenant, script_id))

        return await self._transact("read the script", work)

    async def add_version(
        self, tenant: str, script_id: str, notebook: str, *, name: str | None = None
    ) -> ScriptRecord:
        """A new immutable version (latest + 1); ``name`` renames at the same time."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if name is not None:
            name = rules.script_name(name)

        def work(session: Session) -> ScriptRecord:
            now = self._now()
            values: dict[str, Any] = {
                # Incremented in the database: atomic on both backends (the UPDATE
                # takes the row lock on PostgreSQL, the write lock on SQLite).
                "latest_version": Script.latest_version + 1,
                "updated_at": now,
            }
            if name is not None:
                values["name"] = name
            result = session.execute(
                update(Script)
                .where(Script.id == script_id, Script.tenant == tenant)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                raise ScriptNotFound(script_id)
            script = self._script(session, tenant, script_id, for_update=True)
            session.add(
                ScriptVersion(
                    script_id=script_id,
                    version=script.latest_version,
                    notebook=notebook,
                    created_at=now,
                )
            )
            session.flush()
            return _script_record(script)

        return await self._transact("add a version to the script", work)

    async def update_script(
        self, tenant: str, script_id: str, *, name: object = UNSET, timeout: object = UNSET
    ) -> ScriptRecord:
        """Rename and/or set the per-script timeout (``None`` clears it); no new version."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        values: dict[str, Any] = {}
        if name is not UNSET:
            values["name"] = rules.script_name(name)
        if timeout is not UNSET:
            values["timeout"] = rules.timeout(timeout)

        def work(session: Session) -> ScriptRecord:
            result = session.execute(
                update(Script)
                .where(Script.id == script_id, Script.tenant == tenant)
                .values(updated_at=self._now(), **values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                raise ScriptNotFound(script_id)
            return _script_record(self._script(session, tenant, script_id))

        return await self._transact("update the script", work)

    async def delete_script(self, tenant: str, script_id: str) -> None:
        """Delete the script, all its versions and all its executions."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)

        def work(session: Session) -> None:
            self._script(session, tenant, script_id, for_update=True)
            # ON DELETE CASCADE would do it, but do not depend on the backend enforcing it.
            options = {"synchronize_session": False}
            session.execute(
                delete(Execution).where(Execution.script_id == script_id),
                execution_options=options,
            )
            session.execute(
                delete(ScriptVersion).where(ScriptVersion.script_id == script_id),
                execution_options=options,
            )
            session.execute(
                delete(Script).where(Script.id == script_id, Script.tenant == tenant),
                execution_options=options,
            )

        await self._transact("delete the script", work)

    async def get_notebook(
        self, tenant: str, script_id: str, version: int | None = None
    ) -> tuple[ScriptRecord, int, str]:
        """(script, version, notebook JSON) of ``version`` (latest when None)."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if version is not None and not _is_int(version):
            raise BadRequest("The version must be an integer.")

        def work(session: Session) -> tuple[ScriptRecord, int, str]:
            script = self._script(session, tenant, script_id)
            wanted = script.latest_version if version is None else version
            notebook = session.scalar(
                select(ScriptVersion.notebook).where(
                    ScriptVersion.script_id == script_id, ScriptVersion.version == wanted
                )
            )
            if notebook is None:
                raise VersionNotFound(script_id, wanted)
            return _script_record(script), wanted, notebook

        return await self._transact("read the notebook", work)

    # -- executions -----------------------------------------------------------
    async def create_execution(
        self,
        *,
        execution_id: str,
        tenant: str,
        script_id: str,
        version: int,
        mode: Mode,
        method: str,
        state: State = "running",
        request: bytes | None = None,
        node: str | None = None,
    ) -> ExecutionRecord:
        """Log a new run of ``version`` of the script, created (and started if
        ``state`` is ``running``) now. ``request`` is kept for a queued run until it
        ends; ``node`` names the server running it.

        ``ScriptNotFound``/``VersionNotFound`` when there is no such script or version
        for the tenant; ``ValueError`` for an ``execution_id`` that is not a canonical
        UUID or an unknown ``mode``/``state``.
        """
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not rules.is_uuid(execution_id):
            raise ValueError(f"execution_id must be a canonical UUID, not {execution_id!r}.")
        if mode not in _MODES:
            raise ValueError(f"Unknown execution mode {mode!r}.")
        if state not in _STATES:
            raise ValueError(f"Unknown execution state {state!r}.")
        if not isinstance(method, str) or not 0 < len(method) <= _SHORT_LENGTH:
            raise ValueError(f"Bad HTTP method {method!r}.")

        def work(session: Session) -> ExecutionRecord:
            script = self._script(session, tenant, script_id)
            # Versions are numbered 1..latest and never deleted one by one.
            if not _is_int(version) or not 1 <= version <= script.latest_version:
                raise VersionNotFound(script_id, version)
            now = self._now()
            execution = Execution(
                id=execution_id,
                script_id=script_id,
                version=version,
                tenant=tenant,
                mode=mode,
                method=method,
                state=state,
                created_at=now,
                started_at=now if state == "running" else None,
                request=request,
                node=node,
            )
            session.add(execution)
            session.flush()
            return _execution_record(execution)

        return await self._transact("log the execution", work)

    async def finish_execution(self, execution_id: str, result: ExecutionResult) -> None:
        """Store the outcome of a run (``ExecutionNotFound`` if it is not logged)."""
        if not rules.is_uuid(execution_id):
            raise ExecutionNotFound(execution_id)
        if result.state not in _STATES:
            raise ValueError(f"Unknown execution state {result.state!r}.")

        def work(session: Session) -> None:
            updated = session.execute(
                update(Execution)
                .where(Execution.id == execution_id)
                .values(
                    state=result.state,
                    status_code=result.status_code,
                    reason=_truncate(result.reason, _TEXT_LENGTH),
                    content_type=_truncate(result.content_type, _TEXT_LENGTH),
                    content=bytes(result.content),
                    notebook=result.notebook,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                    duration_ms=result.duration_ms,
                    request=None,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(updated) == 0:
                raise ExecutionNotFound(execution_id)

        await self._transact("store the result of the execution", work)

    # -- the background queue ---------------------------------------------------
    async def claim_background_run(self, node: str, max_running: int) -> ClaimedRun | None:
        """Take the next queued background run for ``node``, or None.

        None when nothing is queued or ``max_running`` background runs already run
        (counted across every node sharing the database). The next run is the oldest
        queued one of the tenant :func:`~jupyter_scripting.execution.queue.next_in_line`
        chooses (the queue's fairness). The claim is a conditional UPDATE: two nodes
        never take the same run.
        """

        def work(session: Session) -> ClaimedRun | None:
            running = dict(
                session.execute(
                    select(Execution.tenant, func.count())
                    .where(Execution.state == "running", Execution.mode == "background")
                    .group_by(Execution.tenant)
                ).all()
            )
            if sum(running.values()) >= max_running:
                return None
            oldest = dict(
                session.execute(
                    select(Execution.tenant, func.min(Execution.seq))
                    .where(Execution.state == "queued", Execution.mode == "background")
                    .group_by(Execution.tenant)
                ).all()
            )
            if not oldest:
                return None
            last_start = dict(
                session.execute(
                    select(Execution.tenant, func.max(Execution.started_at))
                    .where(Execution.mode == "background", Execution.tenant.in_(list(oldest)))
                    .group_by(Execution.tenant)
                ).all()
            )
            chosen = next_in_line(
                TenantQueue(t, seq, running.get(t, 0), last_start.get(t) and _as_utc(last_start[t]))
                for t, seq in oldest.items()
            )
            assert chosen is not None
            seq = chosen.oldest
            now = self._now()
            claimed = session.execute(
                update(Execution)
                .where(Execution.seq == seq, Execution.state == "queued")
                .values(state="running", started_at=now, node=node)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(claimed) == 0:
                return None  # another node took it first; the caller asks again
            row = session.execute(
                select(*_EXECUTION_COLUMNS, Execution.request).where(Execution.seq == seq)
            ).one()
            script_timeout, notebook = session.execute(
                select(Script.timeout, ScriptVersion.notebook)
                .join(ScriptVersion, ScriptVersion.script_id == Script.id)
                .where(Script.id == row.script_id, ScriptVersion.version == row.version)
            ).one()
            return ClaimedRun(
                _execution_record(row), bytes(row.request or b""), notebook, script_timeout
            )

        return await self._transact("take a run from the queue", work)

    async def count_background(self) -> tuple[int, int]:
        """(queued, running) background runs across the service."""

        def work(session: Session) -> tuple[int, int]:
            counts = dict(
                session.execute(
                    select(Execution.state, func.count())
                    .where(
                        Execution.mode == "background", Execution.state.in_(("queued", "running"))
                    )
                    .group_by(Execution.state)
                ).all()
            )
            return counts.get("queued", 0), counts.get("running", 0)

        return await self._transact("count the background runs", work)

    async def mark_interrupted(self, node: str, content: Callable[[str], bytes]) -> int:
        """Mark the runs ``node`` was executing as failed (500, reason ``interrupted``):
        after a crash nothing else will ever finish them. ``content(execution_id)`` is
        the error document each gets. Returns how many were marked."""

        def work(session: Session) -> int:
            ids = session.scalars(
                select(Execution.id).where(
                    Execution.state == "running",
                    or_(Execution.node == node, Execution.node.is_(None)),
                )
            ).all()
            now = self._now()
            for execution_id in ids:
                session.execute(
                    update(Execution)
                    .where(Execution.id == execution_id, Execution.state == "running")
                    .values(
                        state="failed",
                        status_code=500,
                        reason="interrupted",
                        content_type="application/json",
                        content=content(execution_id),
                        finished_at=now,
                        request=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            return len(ids)

        return await self._transact("mark interrupted runs", work)

    async def list_executions(
        self,
        tenant: str,
        script_id: str,
        *,
        version: int | Literal["all"] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ExecutionRecord], bool]:
        """Newest first (ties broken by insertion order); ``version=None`` is the latest."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not (version is None or version == "all" or _is_int(version)):
            raise BadRequest('The version must be an integer or "all".')
        rules.page(limit, offset)

        def work(session: Session) -> tuple[list[ExecutionRecord], bool]:
            script = self._script(session, tenant, script_id)
            conditions: list[ColumnElement[bool]] = [
                Execution.script_id == script_id,
                Execution.tenant == tenant,
            ]
            if version is None:
                conditions.append(Execution.version == script.latest_version)
            elif version != "all":
                exists = session.scalar(
                    select(ScriptVersion.version).where(
                        ScriptVersion.script_id == script_id, ScriptVersion.version == version
                    )
                )
                if exists is None:
                    raise VersionNotFound(script_id, cast(int, version))
                conditions.append(Execution.version == version)
            stmt = (
                select(*_EXECUTION_COLUMNS)
                .where(*conditions)
                .order_by(Execution.created_at.desc(), Execution.seq.desc())
                .limit(limit + 1)
                .offset(offset)
            )
            rows = session.execute(stmt).all()
            return [_execution_record(row) for row in rows[:limit]], len(rows) > limit

        return await self._transact("list the executions", work)

    def _execution_row(
        self, session: Session, tenant: str, script_id: str, execution_id: str, extra: Any
    ) -> Any:
        self._script(session, tenant, script_id)
        row = session.execute(
            select(*_EXECUTION_COLUMNS, extra).where(
                Execution.id == execution_id,
                Execution.script_id == script_id,
                Execution.tenant == tenant,
            )
        ).one_or_none()
        if row is None:
            raise ExecutionNotFound(execution_id)
        return row

    @staticmethod
    def _check_ids(script_id: str, execution_id: str) -> None:
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if not rules.is_uuid(execution_id):
            raise ExecutionNotFound(execution_id)

    async def get_execution(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, bytes]:
        """The record and its stored content."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> tuple[ExecutionRecord, bytes]:
            row = self._execution_row(session, tenant, script_id, execution_id, Execution.content)
            return _execution_record(row), bytes(row.content or b"")

        return await self._transact("read the execution", work)

    async def get_execution_notebook(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, str | None]:
        """The record and the executed notebook (``None`` until the run has finished)."""
        self._check_ids(script_id, execution_id)

        def work(session: Session) -> tuple[ExecutionRecord, str | None]:
            row = self._execution_row(session, tenant, script_id, execution_id, Execution.notebook)
            return _execution_record(row), row.notebook

        return await self._transact("read the notebook of the execution", work)

    async def prune_executions(
        self, *, older_than: dt.datetime | None, keep_per_script: int | None
    ) -> int:
        """Delete finished/failed executions older than ``older_than`` and beyond the
        newest ``keep_per_script`` of each script; returns how many were deleted."""
        if keep_per_script is not None and (not _is_int(keep_per_script) or keep_per_script < 0):
            raise ValueError("keep_per_script must be a non-negative integer or None.")
        if older_than is None and keep_per_script is None:
            return 0

        def work(session: Session) -> int:
            conditions: list[ColumnElement[bool]] = []
            if older_than is not None:
                conditions.append(Execution.created_at < _as_utc(older_than))
            if keep_per_script is not None:
                # Rank each script's finished/failed runs, newest first (portable:
                # SQLite >= 3.25 and PostgreSQL both have window functions).
                ranked = (
                    select(
                        Execution.seq,
                        func.row_number()
                        .over(
                            partition_by=Execution.script_id,
                            order_by=(Execution.created_at.desc(), Execution.seq.desc()),
                        )
                        .label("rank"),
                    )
                    .where(Execution.state.in_(_DONE_STATES))
                    .subquery()
                )
                conditions.append(
                    Execution.seq.in_(select(ranked.c.seq).where(ranked.c.rank > keep_per_script))
                )
            result = session.execute(
                delete(Execution).where(Execution.state.in_(_DONE_STATES), or_(*conditions)),
                execution_options={"synchronize_session": False},
            )
            return _rowcount(result)

        return await self._transact("prune the executions", work)

    # -- API keys -------------------------------------------------------------------
    async def create_api_key(self, tenant: str, user: str, role: Role) -> tuple[ApiKeyRecord, str]:
        """A new key for ``user`` of ``tenant`` with ``role``: its record and the key
        itself (``jsk_<id>_<secret>``), which is shown once and stored only as a hash."""
        rules.label("tenant", tenant)
        rules.label("user", user)
        rules.role(role)

        def work(session: Session) -> tuple[ApiKeyRecord, str]:
            key_id, secret, whole = rules.new_api_key()
            key = ApiKey(
                id=key_id,
                tenant=tenant,
                user=user,
                role=role,
                secret_hash=rules.hash_secret(secret),
                created_at=self._now(),
                revoked_at=None,
            )
            session.add(key)
            session.flush()
            return _api_key_record(key), whole

        return await self._transact("create the API key", work)

    async def list_api_keys(
        self, tenant: str | None = None, *, include_revoked: bool = True
    ) -> list[ApiKeyRecord]:
        """The keys of ``tenant`` (every tenant's when None), newest first."""

        def work(session: Session) -> list[ApiKeyRecord]:
            stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
            if tenant is not None:
                stmt = stmt.where(ApiKey.tenant == tenant)
            if not include_revoked:
                stmt = stmt.where(ApiKey.revoked_at.is_(None))
            return [_api_key_record(key) for key in session.scalars(stmt)]

        return await self._transact("list the API keys", work)

    async def revoke_api_key(self, key_id: str, tenant: str | None = None) -> ApiKeyRecord:
        """Revoke a key (idempotent); ``ApiKeyNotFound`` if there is none with that id in
        ``tenant`` (in any tenant when None)."""
        if not rules.is_api_key_id(key_id):
            raise ApiKeyNotFound(key_id if isinstance(key_id, str) else "")

        def work(session: Session) -> ApiKeyRecord:
            conditions: list[ColumnElement[bool]] = [ApiKey.id == key_id]
            if tenant is not None:
                conditions.append(ApiKey.tenant == tenant)
            # Conditional: a key revoked twice (even at once) keeps its first revocation.
            session.execute(
                update(ApiKey)
                .where(*conditions, ApiKey.revoked_at.is_(None))
                .values(revoked_at=self._now())
                .execution_options(synchronize_session=False)
            )
            key = session.scalars(select(ApiKey).where(*conditions)).one_or_none()
            if key is None:
                raise ApiKeyNotFound(key_id)
            return _api_key_record(key)

        return await self._transact("revoke the API key", work)

    async def authenticate_api_key(self, key: str) -> ApiKeyRecord | None:
        """The record of a valid, unrevoked key; None for anything else (malformed,
        unknown, wrong secret, revoked), the secret compared in constant time."""
        parsed = rules.parse_api_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        digest = rules.hash_secret(secret)

        def work(session: Session) -> ApiKeyRecord | None:
            stored = session.get(ApiKey, key_id)
            if stored is None or not hmac.compare_digest(digest, stored.secret_hash):
                return None
            if stored.revoked_at is not None or stored.role not in rules.ROLES:
                return None
            return _api_key_record(stored)

        return await self._transact("authenticate the API key", work)
