"""What the service needs of its parts, as ``Protocol``s: the store, the runner, and the
kernel provider behind it.

The real parts are ``store.service.Store``, ``execution.runner.Runner`` and
``execution.kernels.KernelProvider`` (or its pool); the service is written against these
protocols only, so its own rules (slots, disconnects, shutdown, the log) can be tested
with a runner of the test's own, in milliseconds, beside the real-kernel tests.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .execution.kernels import Lease
    from .execution.outcome import RunOutcome
    from .execution.runner import RunRequest
    from .execution.sandbox_policy import Sandbox
    from .rules import Role
    from .schedules import ScheduleSpec
    from .store.nodes import Heartbeat, NodeRecord, Reaped
    from .store.records import (
        ApiKeyRecord,
        ClaimedDelivery,
        ClaimedRun,
        DeliveryRecord,
        EventRecord,
        ExecutionRecord,
        ExecutionResult,
        FiredTick,
        Mode,
        ScheduleRecord,
        ScriptRecord,
        SigningSecretRecord,
        State,
        VariableRecord,
    )
    from .variables import RunVariables
    from .webhooks import DeliveryRules


class KernelProviderProtocol(Protocol):
    """Fresh kernels, one per run."""

    sandbox: Sandbox | None

    def lease(self, kernel_name: str) -> Lease: ...

    async def shutdown(self) -> None: ...


class RunnerProtocol(Protocol):
    """Runs one notebook for one request; never raises for the script's own failures."""

    @property
    def kernels(self) -> KernelProviderProtocol: ...

    async def run(
        self,
        notebook: str,
        request: RunRequest,
        *,
        execution_id: str,
        timeout: float,
        parameters: Mapping[str, Any] | None = None,
        events: EventSink | None = None,
        variables: RunVariables | None = None,
    ) -> RunOutcome: ...


class EventSink(Protocol):
    """Where a runner reports a run's live events (``live.RunEvents``)."""

    def emit(self, kind: str, data: dict[str, Any]) -> None: ...


class NodeRegistryProtocol(Protocol):
    """The nodes sharing the store (``cluster.Membership`` needs only these)."""

    async def register_node(self, name: str, instance: str, kind: str) -> NodeRecord | None: ...
    async def heartbeat(self, name: str, instance: str, kind: str) -> Heartbeat: ...
    async def leave_node(self, name: str, instance: str) -> None: ...
    async def reap(
        self,
        *,
        node_timeout: float,
        deadlines: dict[str, float],
        lost: Callable[[str], bytes],
        overdue: Callable[[str], bytes],
    ) -> Reaped: ...
    def listen_queue(
        self,
        wake: Callable[[], None],
        stop: threading.Event,
        events: Callable[[str], None] | None = None,
    ) -> bool: ...


class StoreProtocol(NodeRegistryProtocol, Protocol):
    """Scripts, versions, the execution log, the background queue, the node registry and
    the API keys, every lookup scoped by tenant."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    # scripts
    async def create_script(self, tenant: str, name: str, notebook: str) -> ScriptRecord: ...
    async def list_scripts(
        self, tenant: str, *, limit: int, offset: int
    ) -> tuple[list[ScriptRecord], bool]: ...
    async def get_script(self, tenant: str, script_id: str) -> ScriptRecord: ...
    async def get_notebook(
        self, tenant: str, script_id: str, version: int | None = None
    ) -> tuple[ScriptRecord, int, str]: ...
    async def add_version(
        self, tenant: str, script_id: str, notebook: str, *, name: str | None = None
    ) -> ScriptRecord: ...
    async def update_script(
        self,
        tenant: str,
        script_id: str,
        *,
        name: object = ...,
        timeout: object = ...,
        parameters: object = ...,
        webhook: object = ...,
        variables: object = ...,
        retries: object = ...,
    ) -> ScriptRecord: ...
    async def delete_script(self, tenant: str, script_id: str) -> None: ...

    # the execution log
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
        seat: tuple[str, int] | None = None,
    ) -> ExecutionRecord: ...
    async def log_run(
        self,
        *,
        execution_id: str,
        tenant: str,
        script_id: str,
        mode: Mode,
        method: str,
        state: State = "running",
        request: bytes | None = None,
        node: str | None = None,
        seat: tuple[str, int] | None = None,
        with_notebook: bool = False,
        check: Callable[[ScriptRecord, str], None] | None = None,
        callback: str | None = None,
    ) -> tuple[ScriptRecord, ExecutionRecord, str | None]: ...
    async def finish_execution(
        self,
        execution_id: str,
        result: ExecutionResult,
        events: Sequence[EventRecord] = (),
    ) -> bool: ...
    async def append_events(self, execution_id: str, events: Sequence[EventRecord]) -> None: ...
    async def read_events(
        self, tenant: str, script_id: str, execution_id: str, *, after: int, limit: int
    ) -> tuple[ExecutionRecord, bytes | None, list[EventRecord]]: ...
    async def mark_interrupted(self, node: str, content: Callable[[str], bytes]) -> int: ...
    async def last_executions(
        self, tenant: str, script_ids: list[str]
    ) -> dict[str, ExecutionRecord]: ...
    async def list_executions(
        self,
        tenant: str,
        script_id: str,
        *,
        version: int | Literal["all"] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ExecutionRecord], bool]: ...
    async def get_execution(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, bytes]: ...
    async def get_execution_notebook(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, str | None]: ...

    # the background queue
    async def claim_background_run(self, node: str, max_running: int) -> ClaimedRun | None: ...
    async def count_background(self) -> tuple[int, int]: ...

    # schedules
    async def create_schedule(
        self, tenant: str, script_id: str, spec: ScheduleSpec
    ) -> ScheduleRecord: ...
    async def list_schedules(self, tenant: str, script_id: str) -> list[ScheduleRecord]: ...
    async def get_schedule(
        self, tenant: str, script_id: str, schedule_id: str
    ) -> ScheduleRecord: ...
    async def update_schedule(
        self, tenant: str, script_id: str, schedule_id: str, spec: ScheduleSpec
    ) -> ScheduleRecord: ...
    async def delete_schedule(self, tenant: str, script_id: str, schedule_id: str) -> None: ...
    async def next_schedule_due(self) -> dt.datetime | None: ...
    async def next_schedules(
        self, tenant: str, script_ids: list[str]
    ) -> dict[str, ScheduleRecord]: ...
    async def fire_due_schedules(
        self, request_of: Callable[[ScheduleRecord], bytes]
    ) -> list[FiredTick]: ...

    # webhook deliveries
    delivery_rules: DeliveryRules
    #: Called on the event loop when a run's end queued deliveries (the sender's wake).
    on_deliveries: Callable[[], None] | None

    async def claim_deliveries(
        self, node: str, limit: int, lease: dt.timedelta
    ) -> list[ClaimedDelivery]: ...
    async def record_attempt(
        self,
        claimed: ClaimedDelivery,
        *,
        node: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        delivered: bool,
        retry_in: float,
    ) -> str | None: ...
    async def release_deliveries(self, node: str) -> int: ...
    async def next_delivery_due(self) -> dt.datetime | None: ...
    async def list_deliveries(
        self, tenant: str, script_id: str, execution_id: str
    ) -> list[DeliveryRecord]: ...
    async def last_deliveries(
        self, tenant: str, script_ids: list[str], per_script: int = 3
    ) -> dict[str, list[DeliveryRecord]]: ...
    async def get_signing_secret(self, tenant: str) -> SigningSecretRecord | None: ...
    async def put_signing_secret(
        self, tenant: str, secret: bytes, *, replace: bool
    ) -> tuple[SigningSecretRecord, bool]: ...

    # variables and secrets
    async def put_variable(
        self, tenant: str, name: str, value: bytes, *, secret: bool
    ) -> tuple[VariableRecord, bool]: ...
    async def list_variables(self, tenant: str) -> list[VariableRecord]: ...
    async def get_variable(self, tenant: str, name: str) -> VariableRecord: ...
    async def read_variables(self, tenant: str, names: Iterable[str]) -> list[VariableRecord]: ...
    async def delete_variable(self, tenant: str, name: str) -> None: ...

    # API keys
    async def create_api_key(
        self, tenant: str, user: str, role: Role
    ) -> tuple[ApiKeyRecord, str]: ...
    async def list_api_keys(
        self, tenant: str | None = None, *, include_revoked: bool = True
    ) -> list[ApiKeyRecord]: ...
    async def revoke_api_key(self, key_id: str, tenant: str | None = None) -> ApiKeyRecord: ...
    async def authenticate_api_key(self, key: str) -> ApiKeyRecord | None: ...
