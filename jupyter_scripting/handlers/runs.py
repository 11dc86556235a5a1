"""The run routes (README, "3. Call it" and "Background runs"): ``/run`` answers the
script's own answer; ``/background`` queues the run and answers 202 at once."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import httputil, web

from ..auth import RUNS
from ..credentials import scrub_headers, scrub_query
from ..execution.outcome import Failed
from ..execution.runner import RunRequest
from ..service import SyncRun
from .base import SANDBOX_HEADERS, ScriptingHandler


class RunRequestHandler(ScriptingHandler):
    """What both run routes share: the hand-over of the request, and shutdown tracking."""

    _counted = False

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        # Any body, any content type, reaches the script as bytes. Tornado parses form
        # bodies before prepare() and answers 400 for a malformed multipart or urlencoded
        # one: keep what it can parse (an ``_xsrf`` form field), never refuse the rest.
        parse = self.request._parse_body

        def parse_leniently() -> None:
            try:
                parse()
            except httputil.HTTPInputError as e:
                self.log.debug("Run request body is not a valid form (%s): left as bytes", e)

        self.request._parse_body = parse_leniently  # type: ignore[method-assign]

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self.token_authenticated:
            # A browser session (cookie) runs scripts only from the Jupyter origin: a GET
            # or HEAD from another site must not execute anything either. jupyter_server
            # checks XSRF for other methods only; for GET its check falls back to the
            # Referer, which must be our own origin.
            self.check_xsrf_cookie()
        # Shutdown waits for every run request until its answer is written.
        self.service.answering.begin()
        self._counted = True

    def on_finish(self) -> None:
        if self._counted:
            self._counted = False
            self.service.answering.end()

    def run_request(self) -> RunRequest:
        """The request as the script sees it: everything but credentials."""
        secrets = self.settings.get("scripting_secrets", [])
        return RunRequest(
            method=self.request.method or "GET",
            path=self.request.path,
            query=scrub_query(self.request.query_arguments, secrets),
            headers=scrub_headers(self.request.headers.get_all(), secrets),
            body=self.request.body,
            accept=self.request.headers.get("Accept"),
        )


class RunHandler(RunRequestHandler):
    """Runs the latest version of a script with this request and answers its answer."""

    _run: asyncio.Task[SyncRun] | None = None
    _caller_gone = False

    def on_connection_close(self) -> None:
        # The caller went away mid-run: stop its kernel and give its slot back now.
        self._caller_gone = True
        if self._run is not None:
            self._run.cancel()
        super().on_connection_close()

    @web.authenticated
    @authorized("execute", RUNS)
    async def get(self, script_id: str) -> None:
        """Run the script (every method runs it the same way)."""
        script_id = self.script_id(script_id)
        self._run = asyncio.ensure_future(
            self.service.run_sync(self.tenant, script_id, self.run_request())
        )
        try:
            run = await self._run
        except asyncio.CancelledError:
            if self._caller_gone:
                return  # nobody to answer; the log says "client-disconnected"
            raise
        self._execution_id = run.execution_id
        if isinstance(run.outcome, Failed):
            raise run.outcome.error
        answer = run.outcome.answer
        if answer.dropped_headers:
            self.log.warning(
                "Run %s: dropped response headers the script may not set: %s",
                run.execution_id,
                ", ".join(answer.dropped_headers),
            )
        self.set_status(answer.status)
        for name, value in answer.headers:
            self.set_header(name, value)
        self.set_header("X-Execution-Id", run.execution_id)
        for name, value in SANDBOX_HEADERS.items():
            self.set_header(name, value)
        self.finish_content(answer.body, answer.content_type)

    post = put = patch = delete = get


class BackgroundHandler(RunRequestHandler):
    """Queues a run of the latest version; 202 once it is durably recorded."""

    @web.authenticated
    @authorized("execute", RUNS)
    async def get(self, script_id: str) -> None:
        """Queue the run (every method queues it the same way)."""
        script_id = self.script_id(script_id)
        execution_id = await self.service.run_background(self.tenant, script_id, self.run_request())
        self._execution_id = execution_id
        self.set_header("X-Execution-Id", execution_id)
        self.set_header(
            "Location",
            url_path_join(
                self.base_url, "scripting", "log", "script", script_id, "execution", execution_id
            ),
        )
        self.write_json({"executionId": execution_id}, status=202)

    post = put = patch = delete = get
