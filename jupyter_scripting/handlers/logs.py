"""The log routes (README, "4. Read its logs"): the execution log of a script, one
execution's content, its notebook, its live events."""

from __future__ import annotations

import json
import time
from typing import Literal

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .. import live
from ..auth import LOGS
from ..errors import BadRequest, ExecutionNotFound
from ..live import sse, status_data
from ..models import execution_model
from ..rules import DEFAULT_PAGE, MAX_PAGE, is_uuid
from .base import SANDBOX_HEADERS, ScriptingHandler


class LogHandler(ScriptingHandler):
    """``/scripting/log/script/{id}``: executions, newest first, of the latest version."""

    @web.authenticated
    @authorized("read", LOGS)
    async def get(self, script_id: str) -> None:
        script_id = self.script_id(script_id)
        limit = self.int_argument("limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
        offset = self.int_argument("offset", 0, low=0, high=2**31 - 1)
        raw = self.get_query_argument("version", None)
        version: int | Literal["all"] | None
        if raw is None or raw == "latest":
            version = None
        elif raw == "all":
            version = "all"
        else:
            version = self.int_argument("version", 1, low=1, high=2**31 - 1)
        executions, more = await self.service.list_executions(
            self.tenant, script_id, version, limit, offset
        )
        self.write_json(
            {"filteredLogs": [execution_model(e) for e in executions], "moreElements": more}
        )


class ExecutionHandler(ScriptingHandler):
    """``.../execution/{executionId}``: what that run answered (or its error document)."""

    def execution_id(self, value: str) -> str:
        if not is_uuid(value):
            raise ExecutionNotFound(value[:100])
        self._execution_id = value
        return value

    @web.authenticated
    @authorized("read", LOGS)
    async def get(self, script_id: str, execution_id: str) -> None:
        script_id, execution_id = self.script_id(script_id), self.execution_id(execution_id)
        execution, content = await self.service.get_execution(self.tenant, script_id, execution_id)
        self.set_header("X-Execution-Id", execution.id)
        if execution.state in ("queued", "running"):
            self.write_json({"executionId": execution.id, "state": execution.state}, status=202)
            return
        if execution.status_code is not None:
            self.set_header("X-Execution-Status", str(execution.status_code))
        for name, value in SANDBOX_HEADERS.items():
            self.set_header(name, value)
        if not content and execution.content_type is None:
            self.set_status(204)  # the run answered nothing
        self.finish_content(content, execution.content_type)


class ExecutionNotebookHandler(ExecutionHandler):
    """``.../execution/{executionId}/notebook``: the executed notebook, with outputs."""

    @web.authenticated
    @authorized("read", LOGS)
    async def get(self, script_id: str, execution_id: str) -> None:
        script_id, execution_id = self.script_id(script_id), self.execution_id(execution_id)
        execution, notebook = await self.service.get_execution_notebook(
            self.tenant, script_id, execution_id
        )
        if notebook is None:
            if execution.state in ("queued", "running"):
                self.write_json({"executionId": execution.id, "state": execution.state}, 202)
                return
            raise ExecutionNotFound(execution_id)
        self.set_header("X-Execution-Id", execution.id)
        self.set_header("Content-Disposition", f'attachment; filename="{execution.id}.ipynb"')
        self.finish(notebook, set_content_type="application/x-ipynb+json")


EVENT_STREAM = "text/event-stream; charset=utf-8"


class ExecutionEventsHandler(ExecutionHandler):
    """``.../execution/{executionId}/events``: the run's live output as Server-Sent
    Events (README, "Live output"): every event from the start (or after ``?after=`` /
    ``Last-Event-ID``) as it comes, then a ``status`` event, then the end."""

    #: The client went away: the stream ends at its next turn.
    _gone = False

    @web.authenticated
    @authorized("read", LOGS)
    async def get(self, script_id: str, execution_id: str) -> None:
        script_id, execution_id = self.script_id(script_id), self.execution_id(execution_id)
        after = self.int_argument("after", self._last_event_id(), low=0, high=2**31 - 1)
        service = self.service
        # Before any header is sent: an unknown or foreign run is a JSON 404.
        record, content, events = await service.read_events(
            self.tenant, script_id, execution_id, after
        )
        self.set_header("Content-Type", EVENT_STREAM)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # proxies: pass each event on at once
        self.set_header("X-Execution-Id", execution_id)
        state: str | None = None
        quiet_since = time.monotonic()
        while True:
            chunk = bytearray()
            if record.state in ("queued", "running") and record.state != state:
                state = record.state
                chunk += sse("state", json.dumps({"state": state}))
            for event in events:
                chunk += sse(event.kind, event.data, event.seq)
                after = event.seq
            complete = len(events) < live.PAGE
            if content is not None and complete:
                self.write(bytes(chunk + sse("status", status_data(record, content))))
                self.finish(set_content_type=EVENT_STREAM)
                return
            if chunk:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= live.KEEP_ALIVE:
                chunk += b": keep-alive\n\n"
                quiet_since = time.monotonic()
            if chunk:
                self.write(bytes(chunk))
                try:
                    await self.flush()
                except StreamClosedError:
                    return  # the client went away
            if self._gone or service.stopping:
                return
            if complete:
                await service.events_hub.wait(execution_id, live.POLL_INTERVAL)
            record, content, events = await service.read_events(
                self.tenant, script_id, execution_id, after
            )

    def on_connection_close(self) -> None:
        self._gone = True
        super().on_connection_close()

    def _last_event_id(self) -> int:
        raw = self.request.headers.get("Last-Event-ID", "").strip()
        if not raw:
            return 0
        if not raw.isdigit() or len(raw) > 10:
            raise BadRequest(f"Last-Event-ID must be an event's number (got {raw[:40]!r}).")
        return int(raw)
