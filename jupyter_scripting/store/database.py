"""The store's engine (SQLite or PostgreSQL through SQLAlchemy 2), its thread pool, its
Alembic migrations, and the helpers its parts share."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnElement, create_engine, event, select, text, update
from sqlalchemy.engine import URL, CursorResult, Engine, make_url
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..errors import (
    ScriptNotFound,
    StoreError,
    StoreMisconfigured,
)
from ..rules import Role
from ..variables import names_from_json
from ..webhooks import DeliveryRules
from .events import notify_events
from .models import ApiKey, Execution, Script
from .outbox import queue_deliveries
from .records import (
    ApiKeyRecord,
    ExecutionRecord,
    Mode,
    ScriptRecord,
    State,
)
from .seats import BACKGROUND, free_seats, notify_queue

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
#: Executions not ended yet (the only ones whose end is ever recorded).
_OPEN_STATES = ("queued", "running")
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
    Execution.attempt,
    Execution.retry_of,
    Execution.retried_by,
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
        parameters=script.parameters,
        webhook=script.webhook,
        variables=names_from_json(script.variables),
        retries=script.retries,
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
        attempt=row.attempt or 1,
        retry_of=row.retry_of,
        retried_by=row.retried_by,
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


class Database:
    """The engine, its thread pool and the schema's migrations: what every part of the
    store stands on (``_transact`` runs one unit of work in one transaction)."""

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
        #: How a run's webhook deliveries are written (the app sets the public URL).
        self.delivery_rules = DeliveryRules()
        #: Called (on the event loop) when a run's end queued webhook deliveries: the
        #: service's sender then looks at once (None: it finds them at its next look).
        self.on_deliveries: Callable[[], None] | None = None
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
        sqlite = backend == "sqlite"
        # A server's connection can drop (restart, failover, idle timeout): test each one
        # as it is taken. A SQLite file's cannot, and the test would cost every transaction.
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": not sqlite}
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

    def _fail_running(
        self,
        session: Session,
        which: ColumnElement[bool],
        *,
        status: int,
        reason: str,
        content: Callable[[str], bytes],
    ) -> list[str]:
        """Record the running executions ``which`` selects as failed now, give back their
        seats (telling the queue if a background one is free) and queue their webhook
        deliveries; their ids."""
        ids = list(
            session.scalars(select(Execution.id).where(Execution.state == "running", which)).all()
        )
        now = self._now()
        for execution_id in ids:
            session.execute(
                update(Execution)
                .where(Execution.id == execution_id, Execution.state == "running")
                .values(
                    state="failed",
                    status_code=status,
                    reason=reason,
                    content_type="application/json",
                    content=content(execution_id),
                    finished_at=now,
                    request=None,
                )
                .execution_options(synchronize_session=False)
            )
            notify_events(session, execution_id)
        queue_deliveries(session, ids, now, self.delivery_rules)
        if BACKGROUND in free_seats(session, ids):
            notify_queue(session)
        return ids

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
