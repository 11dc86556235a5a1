"""The JSON models of the API as the client sees them: typed dicts that mirror the server's
(``jupyter_scripting/models.py``), as ``labextension/src/api.ts`` does. Only the standard
library at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from ..rules import Role
    from ..store.records import Mode, State


class ScriptModel(TypedDict):
    """A script (``script_model``)."""

    scriptId: str
    name: str
    version: int
    createdAt: str
    updatedAt: str
    timeout: float | None
    #: "strict", "lenient" or "off"; None: by the notebook (README, "Parameters").
    parameters: str | None
    #: {"url", "events", "sync"}: where its runs' ends are POSTed (README, "Webhooks").
    webhook: dict[str, Any] | None
    #: The names of the tenant variables its runs get (README, "Variables and secrets").
    variables: list[str]
    #: {"max", "on", "backoff"}: its background runs' retries (README, "Retries").
    retries: dict[str, Any] | None


class ExecutionModel(TypedDict):
    """One entry of ``filteredLogs`` (``execution_model``)."""

    executionId: str
    scriptId: str
    executionDate: str
    statusCode: int | None
    state: State
    version: int
    mode: Mode
    method: str
    durationMs: float | None
    #: Which attempt of a retried background run, and its links (README, "Retries").
    attempt: int
    retryOf: str | None
    retriedBy: str | None


class ScheduledRunModel(TypedDict):
    """A schedule's next tick, in short (``scheduled_run``)."""

    scheduleId: str
    cron: str
    timezone: str
    at: str


class ScriptListItem(ScriptModel):
    """A script in the listing (``script_list_item``): with its newest run of any version,
    its soonest schedule and its newest webhook deliveries."""

    lastExecution: ExecutionModel | None
    nextScheduledRun: ScheduledRunModel | None
    lastDeliveries: list[dict[str, Any]]


class ScriptList(TypedDict):
    """``GET /scripting/script``."""

    scripts: list[ScriptListItem]
    moreElements: bool


class ExecutionList(TypedDict):
    """``GET /scripting/log/script/{scriptId}``."""

    filteredLogs: list[ExecutionModel]
    moreElements: bool


class KeyModel(TypedDict):
    """An API key, never its secret (``key_model``)."""

    keyId: str
    tenant: str
    user: str
    role: Role
    createdAt: str
    revokedAt: str | None


class CreatedKeyModel(KeyModel):
    """``POST /scripting/key``: the new key, with the key itself (shown this once)."""

    key: str
