"""The one service the HTTP handlers call: scripts, runs and logs, per tenant.

Handlers stay thin: they parse the request, call a method here and render what comes
back. Everything that decides (validation, limits, deadlines, what goes into the log)
lives here or below, so the same rules hold for every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime as dt
import json
import logging
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import nbformat
from cryptography.fernet import Fernet
from nbformat.validator import NotebookValidationError, normalize
from nbformat.warnings import MissingIDFieldWarning

from . import live, metrics, parameters, retries, rules, schedules, variables, webhooks
from .cluster import Membership
from .crypto import Keyring
from .errors import (
    BadRequest,
    ClientDisconnected,
    InvalidParameters,
    RunInterrupted,
    ScriptingError,
    ServiceStopping,
    StoreUnavailable,
    VariableNotFound,
)
from .execution.outcome import Failed, RunOutcome
from .execution.queue import BackgroundDispatcher
from .execution.runner import RunRequest
from .live import EventsHub, RunEvents
from .protocols import RunnerProtocol, StoreProtocol
from .store.records import (
    ApiKeyRecord,
    ClaimedRun,
    DeliveryRecord,
    EventRecord,
    ExecutionRecord,
    ExecutionResult,
    FiredTick,
    ScheduleRecord,
    ScriptRecord,
    SigningSecretRecord,
    VariableRecord,
)
from .store.schedules import spec_of
from .store.seats import SeatsTaken, sync_scope
from .store.service import UNSET
from .webhook_sender import WebhookSender, WebhookSettings

#: How long after a tick the scheduler looks (the store's clock and this one may differ
#: by a little; a look that comes too early finds nothing due and sleeps again).
_TICK_SLACK = 0.05


class TenantBusy(ScriptingError):
    """The tenant already has as many synchronous runs as it may."""

    status = 429
    reason = "too-many-runs"
    retry_after = 1


class InFlight:
    """Counts requests being answered, so shutdown can wait until they are on the wire."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.count += 1
        self._idle.clear()

    def end(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


@dataclass
class Limits:
    """The service's limits: the ``ScriptingApp`` traits of the same names (their defaults
    and checks are there), filled in by the app."""

    max_sync_runs_per_tenant: int
    sync_timeout: float
    max_background_runs: int
    background_timeout: float
    shutdown_grace: float
    queue_poll_interval: float
    max_node_background_runs: int | None
    heartbeat_interval: float
    node_timeout: float
    schedule_interval: float = 5.0


@dataclass(frozen=True)
class ListedScript:
    """A script of the listing: with its newest execution, its soonest schedule and its
    newest webhook deliveries."""

    script: ScriptRecord
    last: ExecutionRecord | None
    schedule: ScheduleRecord | None
    deliveries: list[DeliveryRecord]


@dataclass
class SyncRun:
    """A finished synchronous run: its id and how it ended."""

    execution_id: str
    outcome: RunOutcome


def validate_notebook(notebook: object) -> str:
    """The notebook as normalized nbformat v4 JSON text, or ``BadRequest`` saying why not."""
    if not isinstance(notebook, dict):
        raise BadRequest("The notebook must be a JSON object in nbformat v4.")
    if notebook.get("nbformat") != 4:
        raise BadRequest(
            f"Only nbformat 4 notebooks are accepted (got nbformat={notebook.get('nbformat')!r})."
        )
    minor = notebook.get("nbformat_minor")
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        # nbformat itself asserts this (an AssertionError, not a validation error).
        raise BadRequest(f"nbformat_minor must be a non-negative integer (got {minor!r}).")
    try:
        with warnings.catch_warnings():
            # Missing cell ids are added by normalize(); nothing to warn anyone about.
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            _, normalized = normalize(copy.deepcopy(notebook))
            node = nbformat.from_dict(normalized)
            # nbformat has no schema for a minor version newer than its own and then checks
            # nothing at all (found by schemathesis): check such a notebook against the
            # newest schema, allowing the properties a newer minor version may have added.
            known = nbformat.v4.nbformat_minor
            nbformat.validate(
                node, version=4, version_minor=min(minor, known), relax_add_props=minor > known
            )
    except (NotebookValidationError, ValueError, TypeError, KeyError, AttributeError) as e:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []) or [])
        detail = getattr(e, "message", None) or str(e)
        location = f" at {where}" if where else ""
        raise BadRequest(f"The notebook is not valid nbformat v4{location}: {detail}") from None
    return str(nbformat.writes(node))


def parse_script_body(
    body: bytes, name_argument: str | None, *, name_required: bool = True
) -> tuple[str | None, str]:
    """(name, notebook JSON) from a create/update body: ``{"name", "notebook"}`` or a bare
    notebook with the name in ``?name=``. Without ``name_required`` a missing name is None."""
    payload = parse_json(body)
    if name_argument is not None:
        # Checked even when the body names the script: a bad parameter is never ignored.
        rules.script_name(name_argument)
    if not isinstance(payload, dict):
        raise BadRequest('The body must be a JSON object: {"name": ..., "notebook": {...}}.')
    if "notebook" in payload:
        if "name" in payload and payload["name"] is None:
            raise BadRequest('"name" must be a string (leave it out to keep the name).')
        name, notebook = payload.get("name", name_argument), payload["notebook"]
    elif "cells" in payload or "nbformat" in payload:
        name, notebook = name_argument, payload
    else:
        raise BadRequest('The body must be {"name": ..., "notebook": {...}} or a bare notebook.')
    if name is None and not name_required:
        return None, validate_notebook(notebook)
    return rules.script_name(name), validate_notebook(notebook)


def parse_json(body: bytes) -> Any:
    """The body as JSON, or ``BadRequest`` with the parser's message."""
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8.") from None
    except json.JSONDecodeError as e:
        raise BadRequest(f"The body is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest("The body's JSON is nested too deeply.") from None


class ScriptingService:
    """Scripts, runs and logs for the handlers; owns the store and the runner."""

    def __init__(
        self,
        store: StoreProtocol,
        runner: RunnerProtocol,
        limits: Limits,
        *,
        node: str,
        kind: str = "server",
        log: logging.Logger | None = None,
        webhook_settings: WebhookSettings | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.log = log or logging.getLogger(__name__)
        self.store = store
        self.runner = runner
        self.declarations = parameters.Declarations()
        #: Wakes the live streams of this node (README, "Live output").
        self.events_hub = EventsHub()
        self.limits = limits
        #: The name this server writes on the runs it executes (see ``mark_interrupted``).
        self.node = node
        #: Synchronous runs this node is executing (the limit itself is the store's seats).
        self._sync_runs = 0
        self._ready: asyncio.Task[None] | None = None
        #: Fires due schedules every ``schedule_interval`` seconds (README, "Schedules").
        self._scheduler: asyncio.Task[None] | None = None
        self._schedules_changed = asyncio.Event()
        #: Set once the store has been opened (migrated, the books closed on a crash).
        self.opened = asyncio.Event()
        self._stopping = False
        #: Run requests between prepare() and finish(), counted by the run handler.
        self.answering = InFlight()
        self.background = BackgroundDispatcher(
            self._claim,
            self._run_claimed,
            max_running=self._node_background_capacity,
            poll_interval=limits.queue_poll_interval,
            log=self.log,
            observe=self._count_background,
        )
        #: Sends the runs' webhook deliveries (README, "Webhooks").
        #: Encrypts what the store keeps secret (the operator's ``secret_key``).
        self.keyring = keyring or Keyring(Fernet.generate_key().decode())
        self.webhooks = WebhookSender(store, node, webhook_settings, self.keyring, self.log)
        store.on_deliveries = self.webhooks.wake  # a run's end queued some: due now
        self.membership = Membership(
            store,
            node=node,
            kind=kind,
            heartbeat_interval=limits.heartbeat_interval,
            node_timeout=limits.node_timeout,
            deadlines={"sync": limits.sync_timeout, "background": limits.background_timeout},
            wake_queue=self.background.wake,
            log=self.log,
            on_events=self.events_hub.notify,
        )

    def _node_background_capacity(self) -> int:
        """Background runs this node executes at once (the cluster's seats bound them too)."""
        mine = self.limits.max_node_background_runs
        cluster = self.limits.max_background_runs
        return cluster if mine is None else min(mine, cluster)

    async def ensure_ready(self) -> None:
        """Open the store once (every caller waits for the same opening): migrate it, then
        close the books on the runs a crash of this node interrupted — before any new run
        of this node can be mistaken for one of them."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._open())
        if not self._stopping:
            self.background.start()  # idempotent; its first claim waits for the opening
        try:
            await asyncio.shield(self._ready)
        except Exception as e:
            self._ready = None  # try again on the next request
            cause = e.__cause__ if isinstance(e, ScriptingError) and e.__cause__ else e
            detail = type(cause).__name__  # the details are in the server's log
            raise StoreUnavailable(
                f"The script store could not be opened ({detail}); try again later."
            ) from e

    @property
    def sync_runs_in_flight(self) -> int:
        """Synchronous runs this node executes now, all tenants together."""
        return self._sync_runs

    async def _open(self) -> None:
        await self.store.start()
        interrupted = await self.store.mark_interrupted(self.node, self._interrupted_document)
        if interrupted:
            self.log.warning("Marked %d runs interrupted by the last shutdown", interrupted)
        if not self._stopping:
            await self.membership.start()
            if self._scheduler is None:
                self._scheduler = asyncio.ensure_future(self._fire_schedules_forever())
            self.webhooks.start()
        if not self.opened.is_set():
            self.opened.set()
            self.log.info("The script store is open")

    async def start(self) -> None:
        """Open the store and start the background queue now rather than on first use."""
        await self.ensure_ready()

    @staticmethod
    def _interrupted_document(execution_id: str) -> bytes:
        error = RunInterrupted(
            "The server stopped while the script ran.", execution_id=execution_id
        )
        return json.dumps(error.document()).encode("utf-8")

    async def stop(self) -> None:
        """Stop taking runs; give the running ones ``shutdown_grace`` seconds to finish,
        then stop their kernels (their logs say "interrupted"); leave queued background
        runs in the store for the next start; close the store."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        await self.background.stop_dispatching()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.shutdown_grace
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.answering.wait_idle(), self.limits.shutdown_grace)
        await self.background.wait_running(max(0.0, deadline - loop.time()))
        # Past the grace period: stop whatever still runs, and let those runs reach
        # their logs (as interrupted) and their callers.
        await self.runner.kernels.shutdown()
        try:
            await asyncio.wait_for(self.answering.wait_idle(), 10)
        except TimeoutError:
            self.log.warning("%d runs were not answered in time", self.answering.count)
        await self.background.wait_running(10)
        await self.webhooks.stop()
        await self.membership.stop()
        await self.store.close()

    # -- scripts --------------------------------------------------------------
    async def create_script(self, tenant: str, name: str, notebook: str) -> ScriptRecord:
        await self.ensure_ready()
        return await self.store.create_script(tenant, name, notebook)

    async def list_scripts(
        self, tenant: str, limit: int, offset: int
    ) -> tuple[list[ListedScript], bool]:
        """A page of the tenant's scripts, each with its newest execution and its
        soonest schedule (or None), and its newest webhook deliveries."""
        await self.ensure_ready()
        scripts, more = await self.store.list_scripts(tenant, limit=limit, offset=offset)
        ids = [s.id for s in scripts]
        last = await self.store.last_executions(tenant, ids)
        planned = await self.store.next_schedules(tenant, ids)
        delivered = await self.store.last_deliveries(tenant, ids)
        listed = [
            ListedScript(s, last.get(s.id), planned.get(s.id), delivered.get(s.id, []))
            for s in scripts
        ]
        return listed, more

    async def get_script(self, tenant: str, script_id: str) -> ScriptRecord:
        await self.ensure_ready()
        return await self.store.get_script(tenant, script_id)

    async def add_version(
        self, tenant: str, script_id: str, name: str | None, notebook: str
    ) -> ScriptRecord:
        await self.ensure_ready()
        return await self.store.add_version(tenant, script_id, notebook, name=name)

    async def update_script(
        self, tenant: str, script_id: str, changes: Any
    ) -> tuple[ScriptRecord, str | None]:
        """Apply a PATCH body: ``name``, ``timeout`` (seconds, or null to clear),
        ``parameters`` ("strict", "lenient", "off", or null: by the notebook) and/or
        ``webhook`` (``{"url", "events", "sync"}`` or null) and/or ``variables`` (the
        names of the tenant variables its runs get, or null). The script, and the
        tenant's signing secret if this PATCH set its first webhook (shown this once)."""
        settings = {"name", "timeout", "parameters", "webhook", "variables", "retries"}
        if not isinstance(changes, dict) or not changes:
            raise BadRequest(
                'PATCH takes a JSON object with "name", "timeout", "parameters", "webhook", '
                '"variables" and/or "retries".'
            )
        unknown = sorted(set(changes) - settings)
        if unknown:
            raise BadRequest(f"Unknown script settings: {', '.join(unknown)}.")
        kwargs: dict[str, object] = {}
        if "name" in changes:
            kwargs["name"] = rules.script_name(changes["name"])
        if "timeout" in changes:
            kwargs["timeout"] = rules.timeout(changes["timeout"])
        if "parameters" in changes:
            kwargs["parameters"] = rules.parameters_mode(changes["parameters"])
        if "variables" in changes:
            kwargs["variables"] = variables.script_variables(changes["variables"])
        if "retries" in changes:
            kwargs["retries"] = retries.parse_retries(changes["retries"])
        hook: webhooks.WebhookSpec | None = None
        if "webhook" in changes:
            hook = kwargs["webhook"] = webhooks.parse_webhook(changes["webhook"])
            if hook is not None:
                await webhooks.check_webhook_target(hook.url, self.webhooks.allowed)
        await self.ensure_ready()
        script = await self.store.update_script(
            tenant,
            script_id,
            name=kwargs.get("name", UNSET),
            timeout=kwargs.get("timeout", UNSET),
            parameters=kwargs.get("parameters", UNSET),
            webhook=kwargs.get("webhook", UNSET),
            variables=kwargs.get("variables", UNSET),
            retries=kwargs.get("retries", UNSET),
        )
        secret = None if hook is None else await self.webhooks.ensure_signing_secret(tenant)
        return script, secret

    async def delete_script(self, tenant: str, script_id: str) -> None:
        await self.ensure_ready()
        await self.store.delete_script(tenant, script_id)

    async def get_notebook(
        self, tenant: str, script_id: str, version: int | None
    ) -> tuple[ScriptRecord, int, str]:
        await self.ensure_ready()
        return await self.store.get_notebook(tenant, script_id, version)

    # -- runs -----------------------------------------------------------------
    def effective_timeout(self, script_timeout: float | None, service_timeout: float) -> float:
        """A per-script timeout may lower, never raise, the service's."""
        if script_timeout is None:
            return service_timeout
        return min(script_timeout, service_timeout)

    def _check_accepting(self) -> None:
        if self._stopping:
            raise ServiceStopping("The server is shutting down; try again shortly.")

    def _callback(self, request: RunRequest) -> str | None:
        """The run's ``X-Scripting-Callback``, if it has one (403 unless its host is on
        ``ScriptingApp.webhook_allowed_hosts``)."""
        wanted = webhooks.CALLBACK_HEADER.lower()
        values = [value for name, value in request.headers if name.lower() == wanted]
        if not values:
            return None
        if len(values) > 1:
            raise BadRequest(f"Name one {webhooks.CALLBACK_HEADER}, not {len(values)}.")
        return webhooks.check_callback(values[0], self.webhooks.allowed)

    async def run_sync(self, tenant: str, script_id: str, request: RunRequest) -> SyncRun:
        """Run the latest version now and wait for its answer (429 past the tenant's limit)."""
        self._check_accepting()
        callback = self._callback(request)
        await self.ensure_ready()
        limit = self.limits.max_sync_runs_per_tenant
        execution_id = str(uuid.uuid4())
        disconnected = ClientDisconnected(
            "The caller disconnected before the run ended; its kernel was stopped.",
            execution_id=execution_id,
        )
        # The script read, its parameters checked, the run logged and its seat taken: one
        # transaction.
        values: list[dict[str, Any] | None] = []
        logging_it = asyncio.ensure_future(
            self.store.log_run(
                execution_id=execution_id,
                tenant=tenant,
                script_id=script_id,
                mode="sync",
                method=request.method,
                node=self.node,
                seat=(sync_scope(tenant), limit),
                with_notebook=True,
                check=self._parameters_check(request, values),
                callback=callback,
            )
        )
        try:
            script, _, notebook = await asyncio.shield(logging_it)
            assert notebook is not None
        except SeatsTaken:
            raise TenantBusy(
                f"This tenant already has {limit} synchronous run{'s' if limit != 1 else ''} "
                "in progress; try again shortly."
            ) from None
        except asyncio.CancelledError:
            # The caller went away while its run was being logged: once it is, close it
            # (and give its seat back) rather than leave it to the reaper.
            with contextlib.suppress(Exception):
                await logging_it
                await self._record_error(execution_id, disconnected)
            raise
        self._sync_runs += 1
        metrics.SYNC_IN_FLIGHT.inc()
        live = self._live(execution_id)
        try:
            outcome = await self.runner.run(
                notebook,
                request,
                execution_id=execution_id,
                timeout=self.effective_timeout(script.timeout, self.limits.sync_timeout),
                parameters=values[0] if values else None,
                events=live,
                variables=await self._run_variables(tenant, script.variables),
            )
        except ScriptingError as e:  # its variables could not be read
            e.execution_id = execution_id
            await asyncio.shield(self._record_error(execution_id, e, live))
            raise
        except asyncio.CancelledError:
            # The caller went away: the runner has stopped the kernel; close the log.
            metrics.record_run("sync", ClientDisconnected.reason, 0.0)
            await asyncio.shield(self._record_error(execution_id, disconnected, live))
            raise
        except Exception:
            await asyncio.shield(self._record_error(execution_id, self._broken(execution_id), live))
            raise
        finally:
            self._sync_runs -= 1
            metrics.SYNC_IN_FLIGHT.dec()
        return SyncRun(execution_id, await self._record(execution_id, outcome, "sync", live))

    def parameter_values(
        self, setting: str | None, notebook: str, request: RunRequest
    ) -> dict[str, Any] | None:
        """The values to inject for this request (None: the script takes no parameters);
        ``InvalidParameters`` names every problem."""
        declared = self.declarations.of(notebook)
        mode = parameters.effective_mode(setting, declared)
        if mode == "off":
            return None
        content_type = next(
            (value for name, value in request.headers if name.lower() == "content-type"), None
        )
        return parameters.values_of(declared or [], mode, request.body, content_type, request.query)

    async def parameters_schema(self, tenant: str, script_id: str) -> dict[str, Any]:
        """The JSON Schema of the latest version's parameters."""
        script, version, notebook = await self.get_notebook(tenant, script_id, None)
        declared = self.declarations.of(notebook)
        mode = parameters.effective_mode(script.parameters, declared)
        document = parameters.schema(declared, mode, f"{script.name} (version {version})")
        document["x-script"] = {"scriptId": script.id, "name": script.name, "version": version}
        return document

    def _parameters_check(
        self, request: RunRequest, found: list[dict[str, Any] | None]
    ) -> Callable[[ScriptRecord, str], None]:
        """``log_run``'s check: refuses the run (422) before it is logged; the values go
        into ``found``."""

        def check(script: ScriptRecord, notebook: str) -> None:
            found.append(self.parameter_values(script.parameters, notebook, request))

        return check

    async def run_background(self, tenant: str, script_id: str, request: RunRequest) -> str:
        """Queue a run of the latest version; once this returns it is durably recorded."""
        self._check_accepting()
        callback = self._callback(request)
        await self.ensure_ready()
        execution_id = str(uuid.uuid4())
        await self.store.log_run(
            execution_id=execution_id,
            tenant=tenant,
            script_id=script_id,
            mode="background",
            method=request.method,
            state="queued",
            request=request.to_json(),
            # Its parameters are checked now (422 before it is queued) and again when it
            # runs (its script may have a new version by then).
            with_notebook=True,
            check=self._parameters_check(request, []),
            callback=callback,
        )
        self.background.wake()
        return execution_id

    async def _claim(self) -> ClaimedRun | None:
        if self._stopping:
            return None
        await self.ensure_ready()
        return await self.store.claim_background_run(self.node, self.limits.max_background_runs)

    async def _count_background(self) -> None:
        """Update the queue's gauges (the dispatcher calls this after each round)."""
        queued, running = await self.store.count_background()
        metrics.BACKGROUND_QUEUED.set(queued)
        metrics.BACKGROUND_RUNNING.set(running)

    async def _run_claimed(self, claimed: ClaimedRun) -> None:
        """Execute a background run taken from the queue and close its log."""
        execution_id = claimed.execution.id
        try:
            request = RunRequest.from_json(claimed.request)
        except (ValueError, KeyError, TypeError):
            self.log.exception("Background run %s: unreadable queued request", execution_id)
            request = RunRequest(claimed.execution.method, "", {}, [], b"")
        try:
            values = self.parameter_values(claimed.script_parameters, claimed.notebook, request)
        except InvalidParameters as e:
            e.execution_id = execution_id
            metrics.record_run("background", e.reason, 0.0)
            await asyncio.shield(self._record_error(execution_id, e))
            return
        try:
            run_variables = await self._run_variables(
                claimed.execution.tenant, claimed.script_variables
            )
        except ScriptingError as e:
            e.execution_id = execution_id
            metrics.record_run("background", e.reason, 0.0)
            await asyncio.shield(self._record_error(execution_id, e))
            return
        live = self._live(execution_id)
        try:
            outcome = await self.runner.run(
                claimed.notebook,
                request,
                execution_id=execution_id,
                timeout=self.effective_timeout(
                    claimed.script_timeout, self.limits.background_timeout
                ),
                parameters=values,
                events=live,
                variables=run_variables,
            )
        except Exception:
            await asyncio.shield(self._record_error(execution_id, self._broken(execution_id), live))
            raise
        await self._record(execution_id, outcome, "background", live)

    async def _run_variables(
        self, tenant: str, names: tuple[str, ...]
    ) -> variables.RunVariables | None:
        """What a run of a script asking for ``names`` gets (None: it asks for none)."""
        if not names:
            return None
        found = {v.name: v for v in await self.store.read_variables(tenant, names)}
        values: dict[str, str] = {}
        secrets: list[str] = []
        for name in names:
            record = found.get(name)
            if record is None or record.value is None:
                continue
            values[name] = self.keyring.decrypt(record.value)
            if record.secret:
                secrets.append(values[name])
        missing = tuple(name for name in names if name not in values)
        return variables.RunVariables(values, missing, variables.Masker(secrets))

    @staticmethod
    def _broken(execution_id: str) -> ScriptingError:
        """What the log says of a run the service itself failed (the runner raised)."""
        return ScriptingError(
            "The service failed while it ran the script (the server's log says why).",
            execution_id=execution_id,
        )

    def _live(self, execution_id: str) -> RunEvents:
        """The recorder of a run's live events."""
        return RunEvents(self.store, self.events_hub, execution_id, log=self.log)

    async def _finish(
        self, execution_id: str, result: ExecutionResult, live: RunEvents | None
    ) -> bool:
        """Store how the run ended with its last live events, and wake its streams here
        (``finish_execution``'s answer: False if it had been closed as node-lost)."""
        events = await live.close() if live is not None else []
        stored = await self.store.finish_execution(execution_id, result, events)
        self.events_hub.notify(execution_id)
        return stored

    async def _record_error(
        self, execution_id: str, error: ScriptingError, live: RunEvents | None = None
    ) -> None:
        """Close the log of a run that ended without an outcome (and give back its seat)."""
        now = dt.datetime.now(dt.UTC)
        await self._finish(
            execution_id,
            ExecutionResult(
                state="failed",
                status_code=error.status,
                reason=error.reason,
                content_type="application/json",
                content=json.dumps(error.document()).encode("utf-8"),
                notebook=None,
                started_at=now,
                finished_at=now,
                duration_ms=0.0,
            ),
            live,
        )

    async def _record(
        self, execution_id: str, outcome: RunOutcome, mode: str, live: RunEvents
    ) -> RunOutcome:
        """Write how the run ended into its log (and count it); returns what was written."""
        if self._stopping and isinstance(outcome, Failed):
            # The kernel was stopped under it: whatever it then reported, it was stopped.
            error = RunInterrupted(
                "The server shut down while the script ran.", execution_id=execution_id
            )
            outcome = dataclasses.replace(outcome, error=error)
        reason = outcome.error.reason if isinstance(outcome, Failed) else None
        metrics.record_run(mode, reason, outcome.duration_ms / 1000)
        content_type: str | None
        state: Literal["finished", "failed"]
        if isinstance(outcome, Failed):
            content_type, state = "application/json", "failed"
            content = json.dumps(outcome.error.document(outcome.traceback)).encode("utf-8")
        else:
            content_type, content, state = (
                outcome.answer.content_type,
                outcome.answer.body,
                "finished",
            )
        stored = await self._finish(
            execution_id,
            ExecutionResult(
                state=state,
                status_code=outcome.status,
                reason=reason,
                content_type=content_type,
                content=content,
                notebook=outcome.notebook,
                started_at=outcome.started_at,
                finished_at=outcome.finished_at,
                duration_ms=outcome.duration_ms,
            ),
            live,
        )
        if not stored:
            self.log.warning(
                "Run %s ended (%s) after another node had recorded it as node-lost; the "
                "log keeps node-lost",
                execution_id,
                outcome.status,
            )
        return outcome

    # -- schedules ------------------------------------------------------------
    async def create_schedule(self, tenant: str, script_id: str, body: Any) -> ScheduleRecord:
        """A new schedule from a POST body; its body is checked against the script's
        parameters now (422), and again at each run."""
        spec = schedules.parse_spec(body)
        await self.ensure_ready()
        await self._check_schedule(tenant, script_id, spec)
        created = await self.store.create_schedule(tenant, script_id, spec)
        self._schedules_changed.set()
        return created

    async def list_schedules(self, tenant: str, script_id: str) -> list[ScheduleRecord]:
        await self.ensure_ready()
        return await self.store.list_schedules(tenant, script_id)

    async def get_schedule(self, tenant: str, script_id: str, schedule_id: str) -> ScheduleRecord:
        await self.ensure_ready()
        return await self.store.get_schedule(tenant, script_id, schedule_id)

    async def update_schedule(
        self, tenant: str, script_id: str, schedule_id: str, body: Any
    ) -> ScheduleRecord:
        """Apply a PATCH body over the schedule's settings."""
        await self.ensure_ready()
        current = await self.store.get_schedule(tenant, script_id, schedule_id)
        spec = schedules.parse_spec(body, spec_of(current), partial=True)
        await self._check_schedule(tenant, script_id, spec)
        changed = await self.store.update_schedule(tenant, script_id, schedule_id, spec)
        self._schedules_changed.set()
        return changed

    async def delete_schedule(self, tenant: str, script_id: str, schedule_id: str) -> None:
        await self.ensure_ready()
        await self.store.delete_schedule(tenant, script_id, schedule_id)

    async def _check_schedule(
        self, tenant: str, script_id: str, spec: schedules.ScheduleSpec
    ) -> None:
        script, _, notebook = await self.store.get_notebook(tenant, script_id, None)
        request = self._scheduled_request("", spec.body)  # its body is what is checked
        self.parameter_values(script.parameters, notebook, request)

    @staticmethod
    def _scheduled_request(schedule_id: str, body: str | None) -> RunRequest:
        """What the script of a scheduled run sees as ``request``."""
        return RunRequest(
            method="POST",
            path="/scripting/schedule",
            query={},
            headers=schedules.schedule_headers(schedule_id, body),
            body=schedules.run_body(body),
        )

    async def fire_schedules(self) -> list[FiredTick]:
        """Queue the runs of the schedules due now (on every node; each tick once)."""
        await self.ensure_ready()
        fired = await self.store.fire_due_schedules(
            lambda record: self._scheduled_request(record.id, record.body).to_json()
        )
        for tick in fired:
            if tick.execution_id is None:
                self.log.warning(
                    "Schedule %s: the tick of %s was missed (skipped)", tick.schedule_id, tick.tick
                )
            else:
                self.log.info(
                    "Schedule %s: queued run %s for the tick of %s",
                    tick.schedule_id,
                    tick.execution_id,
                    tick.tick,
                )
        if any(tick.execution_id for tick in fired):
            self.background.wake()
        return fired

    async def _fire_schedules_forever(self) -> None:
        """Fire what is due, then sleep until the soonest tick, for ``schedule_interval``
        at most (a schedule another node wrote is seen by then; one written here wakes
        the loop at once)."""
        while not self._stopping:
            pause = self.limits.schedule_interval
            try:
                await self.fire_schedules()
                soonest = await self.store.next_schedule_due()
                if soonest is not None:
                    until = (soonest - dt.datetime.now(dt.UTC)).total_seconds()
                    pause = min(pause, max(until, 0.0) + _TICK_SLACK)
            except Exception:  # a store that failed is tried again at the next look
                self.log.exception("Could not fire the due schedules")
            self._schedules_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedules_changed.wait(), pause)

    # -- variables and secrets ---------------------------------------------------
    async def put_variable(self, tenant: str, name: str, body: Any) -> tuple[VariableRecord, bool]:
        """Create or replace a variable from a PUT body; whether it was created."""
        name = variables.variable_name(name)
        given = variables.parse_value(body)
        await self.ensure_ready()
        return await self.store.put_variable(
            tenant, name, self.keyring.encrypt(given.value), secret=given.secret
        )

    async def list_variables(self, tenant: str) -> list[VariableRecord]:
        await self.ensure_ready()
        return await self.store.list_variables(tenant)

    async def get_variable(self, tenant: str, name: str) -> tuple[VariableRecord, str | None]:
        """The variable, and its value if it is not a secret (a secret's never leaves)."""
        if variables.NAME.fullmatch(name) is None:
            raise VariableNotFound(name[:140])
        await self.ensure_ready()
        record = await self.store.get_variable(tenant, name)
        value = None
        if not record.secret and record.value is not None:
            value = self.keyring.decrypt(record.value)
        return record, value

    async def delete_variable(self, tenant: str, name: str) -> None:
        if variables.NAME.fullmatch(name) is None:
            raise VariableNotFound(name[:140])
        await self.ensure_ready()
        await self.store.delete_variable(tenant, name)

    # -- webhooks ---------------------------------------------------------------
    async def list_deliveries(
        self, tenant: str, script_id: str, execution_id: str
    ) -> list[DeliveryRecord]:
        await self.ensure_ready()
        return await self.store.list_deliveries(tenant, script_id, execution_id)

    async def signing_secret_info(self, tenant: str) -> SigningSecretRecord | None:
        """The tenant's signing secret's record (None: it has none yet)."""
        await self.ensure_ready()
        return await self.store.get_signing_secret(tenant)

    async def rotate_signing_secret(self, tenant: str) -> tuple[SigningSecretRecord, str]:
        await self.ensure_ready()
        return await self.webhooks.rotate_signing_secret(tenant)

    # -- API keys ---------------------------------------------------------------
    async def create_api_key(self, tenant: str, body: Any) -> tuple[ApiKeyRecord, str]:
        """A key for ``{"user", "role"}`` in ``tenant``: its record and the key itself."""
        if not isinstance(body, dict) or set(body) - {"user", "role"}:
            raise BadRequest('Create a key with {"user": "...", "role": "admin|developer|runner"}.')
        role = rules.role(body.get("role"))
        user = body.get("user")
        user = rules.label("user", user.strip() if isinstance(user, str) else user)
        await self.ensure_ready()
        return await self.store.create_api_key(tenant, user, role)

    async def list_api_keys(self, tenant: str) -> list[ApiKeyRecord]:
        await self.ensure_ready()
        return await self.store.list_api_keys(tenant)

    async def revoke_api_key(self, tenant: str, key_id: str) -> None:
        await self.ensure_ready()
        await self.store.revoke_api_key(key_id, tenant)

    # -- logs -----------------------------------------------------------------
    async def list_executions(
        self,
        tenant: str,
        script_id: str,
        version: int | Literal["all"] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[ExecutionRecord], bool]:
        await self.ensure_ready()
        return await self.store.list_executions(
            tenant, script_id, version=version, limit=limit, offset=offset
        )

    async def get_execution(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, bytes]:
        await self.ensure_ready()
        return await self.store.get_execution(tenant, script_id, execution_id)

    async def get_execution_notebook(
        self, tenant: str, script_id: str, execution_id: str
    ) -> tuple[ExecutionRecord, str | None]:
        await self.ensure_ready()
        return await self.store.get_execution_notebook(tenant, script_id, execution_id)

    async def read_events(
        self, tenant: str, script_id: str, execution_id: str, after: int
    ) -> tuple[ExecutionRecord, bytes | None, list[EventRecord]]:
        """A page of the run's live events after number ``after``, with its record (and
        its content once it has ended: then every event of it is written)."""
        await self.ensure_ready()
        return await self.store.read_events(
            tenant, script_id, execution_id, after=after, limit=live.PAGE
        )

    @property
    def stopping(self) -> bool:
        """The server is shutting down (live streams end)."""
        return self._stopping
