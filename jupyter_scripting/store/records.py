"""Plain, immutable records the store hands out (never live ORM objects)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from ..rules import Role

#: How a run was asked for.
Mode = Literal["sync", "background"]
#: Where a run stands. ``finished`` runs have a status code; ``failed`` ones too
#: (a 5xx), ``queued``/``running`` ones have none yet.
State = Literal["queued", "running", "finished", "failed"]


@dataclass(frozen=True)
class ScriptRecord:
    """A script's metadata; ``version`` is its latest version."""

    id: str
    tenant: str
    name: str
    version: int
    created_at: dt.datetime  # timezone-aware UTC
    updated_at: dt.datetime  # timezone-aware UTC
    timeout: float | None  # per-script timeout in seconds (None: the service's)
    #: "strict", "lenient" or "off"; None: strict if the notebook has a parameters cell.
    parameters: str | None = None
    #: Its webhook (JSON of ``webhooks.WebhookSpec``); None: none.
    webhook: str | None = None
    #: The names of the tenant variables its runs get.
    variables: tuple[str, ...] = ()
    #: Its background runs' retries (JSON of ``retries.RetrySpec``); None: none.
    retries: str | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    """One run of one version of a script (without its content and notebook)."""

    id: str
    script_id: str
    version: int
    tenant: str
    mode: Mode
    method: str
    state: State
    status_code: int | None
    reason: str | None
    created_at: dt.datetime  # timezone-aware UTC; when the run was accepted
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_ms: float | None
    content_type: str | None
    #: Which attempt of a retried background run (1: the first, or the only one).
    attempt: int = 1
    #: The first attempt's id (on a retry), and the next attempt's (once retried).
    retry_of: str | None = None
    retried_by: str | None = None


@dataclass(frozen=True)
class ExecutionResult:
    """What a finished run leaves in its log."""

    state: State
    status_code: int
    reason: str | None
    content_type: str | None
    content: bytes
    notebook: str | None  # the executed notebook as nbformat JSON text
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: float


@dataclass(frozen=True)
class ClaimedRun:
    """A queued background run this node has just taken: everything needed to run it."""

    execution: ExecutionRecord
    request: bytes  # the request as queued (JSON)
    notebook: str  # the notebook of the execution's version
    script_timeout: float | None  # the script's own timeout, if any
    script_parameters: str | None = None  # the script's parameters setting
    script_variables: tuple[str, ...] = ()  # the variables the script asks for


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key's public part: never its secret, never the secret's hash."""

    id: str  # the key's public id (the part of the key before the secret)
    tenant: str
    user: str
    role: Role
    created_at: dt.datetime  # timezone-aware UTC
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class EventRecord:
    """One live event of a run: its number within the run, kind and JSON data."""

    seq: int
    kind: str
    data: str  # JSON


@dataclass(frozen=True)
class ScheduleRecord:
    """A script's cron schedule (README, "Schedules")."""

    id: str
    tenant: str
    script_id: str
    cron: str
    timezone: str
    body: str | None  # JSON
    enabled: bool
    catch_up: str  # "skip" or "once"
    next_at: dt.datetime | None  # None while disabled
    last_tick_at: dt.datetime | None
    last_execution_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class FiredTick:
    """A run a schedule's tick queued (``execution_id`` None: the tick was skipped)."""

    schedule_id: str
    tick: dt.datetime
    execution_id: str | None


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a webhook delivery: the receiver's status (None: no answer, see
    ``error``), when, from which node, how long it took."""

    attempt: int
    at: dt.datetime
    node: str
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class DeliveryRecord:
    """A webhook delivery of a run's end, with its attempts so far (README, "Webhooks")."""

    id: str
    execution_id: str
    url: str
    event: str
    state: str  # "pending", "delivered" or "failed" (given up)
    attempts: tuple[AttemptRecord, ...]
    next_at: dt.datetime | None  # the next attempt (None once delivered or given up)
    give_up_at: dt.datetime
    created_at: dt.datetime


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this node has claimed, to make attempt number ``attempt`` of it."""

    id: str
    tenant: str
    execution_id: str
    url: str
    event: str
    payload: str  # JSON
    attempt: int
    claim: str  # the claim's token: only its holder records the attempt


@dataclass(frozen=True)
class SigningSecretRecord:
    """A tenant's webhook signing secret, still encrypted."""

    tenant: str
    secret: bytes  # Fernet token (``crypto.Keyring``)
    created_at: dt.datetime


@dataclass(frozen=True)
class VariableRecord:
    """A tenant's variable or secret; ``value`` (still encrypted) only where asked for."""

    name: str
    secret: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    value: bytes | None = None  # Fernet token (``crypto.Keyring``)
