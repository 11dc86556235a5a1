"""SQLAlchemy 2 models of the script store (the schema itself lives in Alembic migrations).

These classes describe what ``migrations/versions/*.py`` create; the store never calls
``metadata.create_all``. The tests compare this metadata with the migrated database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Deterministic constraint names, so migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A UTC instant: stored as a naive UTC ``DATETIME``/``TIMESTAMP``, read back aware.

    SQLite has no time zones, so both backends store naive UTC (with microseconds) and
    every value read back carries ``tzinfo=UTC``. Naive values given to it are taken to
    be UTC already; aware ones are converted.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        if moment.tzinfo is not None:
            return moment.astimezone(dt.UTC)
        return moment.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Script(Base):
    """A script: its metadata and the number of its latest version."""

    __tablename__ = "scripts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    latest_version: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: "strict", "lenient" or "off" (README, "Parameters"); None: by the notebook.
    parameters: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Where its runs' ends are POSTed (JSON of ``webhooks.WebhookSpec``; None: nowhere).
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The tenant variables its runs get (a JSON list of names; None: none).
    variables: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Its background runs' retries (JSON of ``retries.RetrySpec``; None: none).
    retries: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ScriptVersion(Base):
    """One immutable version of a script's notebook."""

    __tablename__ = "script_versions"

    script_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("scripts.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    notebook: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Execution(Base):
    """One run of one version of a script: its state, answer and executed notebook."""

    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_script_id_version_seq", "script_id", "version", "seq"),
        Index("ix_executions_state_mode_seq", "state", "mode", "seq"),
        {"sqlite_autoincrement": True},
    )

    #: Insertion order: breaks ties between runs created in the same instant.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    script_id: Mapped[str] = mapped_column(String(36), ForeignKey("scripts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    tenant: Mapped[str] = mapped_column(String(255), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    notebook: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The request of a queued background run (JSON), dropped once the run has ended.
    request: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The server that runs (or ran) it, so a restart can tell which runs it interrupted.
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The per-call callback URL (``X-Scripting-Callback``) its end is POSTed to.
    callback: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Which attempt of a retried background run this is (None: the first).
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The first attempt's id, on every later attempt (README, "Retries").
    retry_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: The next attempt's id, on an attempt that was retried.
    retried_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: A queued retry is not taken before this.
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(Base):
    """An API key: its public id, owner and role, and the SHA-256 of its secret."""

    __tablename__ = "api_keys"

    #: The key's public id (the part of the key before its secret).
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255), index=True)
    user: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: Hex SHA-256 of the secret (never the secret: it is shown once, when created).
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Node(Base):
    """A server (or worker) sharing the store: its name and its last sign of life."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: Which start of that node wrote the row (a node started again takes its name over).
    instance: Mapped[str] = mapped_column(String(36))
    #: "server" (serves HTTP and runs scripts) or "worker" (runs background runs only).
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Seat(Base):
    """One seat of a limit, held by one running execution: ``scope`` is ``background`` or
    ``sync:<tenant>``, ``slot`` 0..limit-1. The primary key makes the limit exact: a seat
    is taken by an INSERT that conflicts when another run holds it."""

    __tablename__ = "seats"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    execution_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("executions.id", ondelete="CASCADE"), unique=True
    )
    node: Mapped[str] = mapped_column(String(255), index=True)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ExecutionEvent(Base):
    """One live event of a run (README, "Live output"): a cell started, a chunk of
    stdout/stderr, a display output, a cell's error. Written while the run goes on (in
    batches) and with its result; deleted with its execution."""

    __tablename__ = "execution_events"

    execution_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    #: 1, 2, … within the execution: the event's SSE id.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    #: The event's data, JSON.
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Schedule(Base):
    """A cron schedule of a script (README, "Schedules"): each tick queues one background
    run with ``body``. ``next_at`` is the next tick (None while disabled); the node that
    moves it forward in a conditional UPDATE is the one that queues the tick's run."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255), index=True)
    script_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("scripts.id", ondelete="CASCADE"), index=True
    )
    cron: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64))
    #: The runs' JSON body (None: none).
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: After missed ticks: "skip" them, or run "once" for all of them.
    catch_up: Mapped[str] = mapped_column(String(8))
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    #: The tick that last queued a run, and that run.
    last_tick_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_execution_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One webhook delivery of a run's end (README, "Webhooks"): written in the
    transaction that records the end, sent by whichever node claims it first, tried
    again with back-off until ``give_up_at``. ``claim`` (a token) and ``claimed_until``
    name the node sending an attempt now; an expired claim may be taken over."""

    __tablename__ = "deliveries"
    # The listing's last deliveries of each script (``last_deliveries``).
    __table_args__ = (
        Index("ix_deliveries_tenant_script_id_created_at", "tenant", "script_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255))
    script_id: Mapped[str] = mapped_column(String(36))
    execution_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("executions.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    #: "finished" or "failed": the run's end state.
    event: Mapped[str] = mapped_column(String(16))
    #: The JSON body, the same for every attempt.
    payload: Mapped[str] = mapped_column(Text)
    #: "pending", "delivered" or "failed" (given up).
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    #: When the next attempt is due (None once delivered or given up).
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    give_up_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DeliveryAttempt(Base):
    """One attempt of a delivery: when, by which node, the receiver's status code (None:
    no answer) or what went wrong, and how long it took."""

    __tablename__ = "delivery_attempts"

    delivery_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    node: Mapped[str] = mapped_column(String(255))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)


class SigningSecret(Base):
    """A tenant's webhook signing secret, encrypted with the operator's key
    (``jupyter_scripting.crypto``)."""

    __tablename__ = "signing_secrets"

    tenant: Mapped[str] = mapped_column(String(255), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Variable(Base):
    """A tenant's variable or secret (README, "Variables and secrets"); its value is
    encrypted with the operator's key (``jupyter_scripting.crypto``), a plain one too."""

    __tablename__ = "variables"

    tenant: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    secret: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
