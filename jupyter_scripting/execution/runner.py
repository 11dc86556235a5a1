"""Running one version of a script for one request, in a fresh kernel, with a deadline.

The runner drives nbclient cell by cell on a kernel and client it started itself: it
never calls ``NotebookClient.async_execute()``, whose ``async_setup_kernel`` replaces
the server's SIGTERM/SIGINT handlers (after which SIGTERM would kill the server with
no cleanup). The request is handed over by code run silently before the first cell
(it is not a cell of the notebook, so it is neither selected as output nor stored);
the script's ``response`` is read back through ``user_expressions`` after the last.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import dataclasses
import datetime as dt
import functools
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import nbformat
from nbclient import NotebookClient
from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from ..errors import BadScriptAnswer, RunNotStarted
from ..parameters import inject as inject_parameters
from ..protocols import EventSink
from ..variables import Masker, RunVariables
from .answer import Answer, build_answer
from .kernels import KernelHandle, KernelProvider
from .outcome import Answered, Evidence, Failed, RunOutcome, classify
from .output_cap import CappedNotebookClient, check_response_dump

DEFAULT_KERNEL = "python3"
_KERNEL_SIDE = resources.files("jupyter_scripting.runtime").joinpath("kernel_side.py")


@dataclass
class RunRequest:
    """The HTTP request as the script will see it (credentials already removed)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: bytes
    accept: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The request as JSON-ready data (the body base64-encoded)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode("ascii"),
            "accept": self.accept,
        }

    def to_json(self) -> bytes:
        """The request as JSON bytes, for a background run waiting in the queue."""
        return json.dumps(self.as_dict()).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> RunRequest:
        """The request queued by :meth:`to_json`."""
        payload = json.loads(data)
        return cls(
            method=payload["method"],
            path=payload["path"],
            query=payload["query"],
            headers=[(name, value) for name, value in payload["headers"]],
            body=base64.b64decode(payload["body"]),
            accept=payload["accept"],
        )


def handover_payload(
    request: RunRequest,
    execution_id: str,
    *,
    max_output_size: int | None = None,
    variables: RunVariables | None = None,
) -> str:
    """What ``__jupyter_scripting_install__`` is called with: the request and the run's
    settings as base64-encoded JSON (``max_output_size``: the cap the kernel side puts on
    ``response.write()`` and on what stdout/stderr pass on; ``variables``: what the run
    gets of the tenant's variables, set in the kernel's environment too)."""
    payload = {
        **request.as_dict(),
        "execution_id": execution_id,
        "max_output_size": max_output_size,
        "variables": {} if variables is None else variables.values,
        "missing_variables": [] if variables is None else list(variables.missing),
    }
    return base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")


#: Where a kernel forked from the zygote finds the kernel-side code compiled in advance
#: (an attribute of ``sys``: a dict from its source text to its code object).
PRECOMPILED = "_jupyter_scripting_code"


def handover_expression(
    request: RunRequest,
    execution_id: str,
    *,
    max_output_size: int | None = None,
    variables: RunVariables | None = None,
) -> str:
    """One expression, evaluated as a ``user_expressions`` entry, that defines
    ``request``/``response`` (and ``secrets``) in a kernel without this package: it runs
    the kernel-side code, calls its ``__jupyter_scripting_install__`` with
    :func:`handover_payload` and removes it from the namespace.

    A kernel forked from the zygote takes the kernel-side code compiled there (the
    zygote compiled this very source; ~2 ms a run saved); any other kernel compiles the
    source the expression carries with Python's own compiler, instead of passing ~10 kB
    of code (and the request body) through IPython's cell transformers as a cell would."""
    source = kernel_side_source()
    payload = handover_payload(
        request, execution_id, max_output_size=max_output_size, variables=variables
    )
    code = (
        f"__import__('sys').__dict__.pop({PRECOMPILED!r}, {{}}).get(s) "
        "or compile(s, '<jupyter-scripting>', 'exec')"
    )
    return (
        f"(lambda g, s: (exec({code}, g), g.pop('__jupyter_scripting_install__')"
        f"({payload!r}, g))[1])(globals(), {source!r})"
    )


@functools.cache
def kernel_side_source() -> str:
    """The kernel-side code, read once (not on every run)."""
    return _KERNEL_SIDE.read_text(encoding="utf-8")


class NotebookCache:
    """Notebook texts read and validated before: an immutable version is not validated
    again on every run (nbformat's JSON-schema validation took more CPU than the rest of
    reading it). Each run still gets a notebook object of its own, parsed from the text.
    Bounded by the texts' total size (least recently used first out)."""

    def __init__(self, max_chars: int = 64 * 2**20) -> None:
        self.max_chars = max_chars
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._chars = 0

    def read(self, text: str) -> Any:
        """The notebook (nbformat v4) of ``text``; nbformat's errors as ``nbformat.reads``."""
        if text in self._seen:
            self._seen.move_to_end(text)
            return nbformat.from_dict(json.loads(text))
        nb = nbformat.reads(text, as_version=4)
        # Only a text that is already valid v4 as it stands (no conversion, no repair).
        if len(text) <= self.max_chars and nb == json.loads(text):
            self._seen[text] = None
            self._chars += len(text)
            while self._chars > self.max_chars:
                old, _ = self._seen.popitem(last=False)
                self._chars -= len(old)
        return nb


def dumps_executed(nb: Any) -> str:
    """The executed notebook as nbformat JSON text, as ``nbformat.writes`` gives it but
    without validating it again (its cells come from a valid version, and nbclient builds
    the outputs with nbformat's own constructors)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Runner(LoggingConfigurable):
    """Executes a notebook for a request in a fresh kernel, within a whole-run deadline."""

    kernels = Instance(KernelProvider)
    #: ``ScriptingApp.max_output_size``, passed in (not configurable here).
    max_output_size = Integer(
        None, allow_none=True, help="Bytes of output a run may produce; None: no cap."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notebooks = NotebookCache()

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
    ) -> RunOutcome:
        """Run ``notebook`` for ``request`` within ``timeout`` seconds, kernel start
        included; never raises for the script's own failures (only the caller's
        cancellation passes through, once the kernel is gone). ``parameters``: values
        injected after the ``parameters`` cell (None: the notebook runs as it is);
        ``events``: told each cell's start and each output as they come; ``variables``:
        the tenant variables the run gets (their secrets masked in all it leaves)."""
        started_at, start = _utcnow(), time.perf_counter()
        masker = variables.masker if variables is not None and variables.masker else None
        nb = self.notebooks.read(notebook)
        if parameters is not None:
            inject_parameters(nb, parameters)
        kernel_name = (nb.metadata.get("kernelspec") or {}).get("name") or DEFAULT_KERNEL
        lease = self.kernels.lease(kernel_name)
        deadline = asyncio.timeout(timeout)
        client: CappedNotebookClient | None = None
        try:
            # The deadline ends before the lease does: a kernel is never killed halfway.
            async with lease, deadline:
                client = self._client(nb, await lease.acquire())
                client.events = events
                client.masker = masker
                answer = await self._execute(client, nb, request, execution_id, variables)
        except (Exception, asyncio.CancelledError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling() > 0:
                # Cancelled from outside (the caller went away, the server stops); nbclient
                # may have reported it as a dead kernel. Not ours to answer either way.
                raise asyncio.CancelledError from None
            sandbox = self.kernels.sandbox
            evidence = Evidence(
                timeout=timeout,
                timed_out=deadline.expired(),
                output_overflow=client.overflow if client is not None else None,
                max_output_size=self.max_output_size,
                limit=lease.limit,
                limits=sandbox.limits if sandbox is not None else None,
            )
            failure = classify(exc, evidence)
            if failure.unexpected:
                self.log.error("Run %s failed unexpectedly", execution_id, exc_info=exc)
            failure.error.execution_id = execution_id
            traceback = failure.traceback
            if masker is not None:
                _mask_outputs(nb, masker)
                failure.error.message = masker.text(failure.error.message)
                traceback = None if traceback is None else masker.text(traceback)
            return Failed(
                error=failure.error,
                notebook=dumps_executed(nb),
                started_at=started_at,
                finished_at=_utcnow(),
                duration_ms=(time.perf_counter() - start) * 1000,
                traceback=traceback,
            )
        return Answered(
            answer=answer,
            notebook=dumps_executed(nb),
            started_at=started_at,
            finished_at=_utcnow(),
            duration_ms=(time.perf_counter() - start) * 1000,
        )

    def _client(self, nb: Any, handle: KernelHandle) -> CappedNotebookClient:
        """nbclient on the leased kernel and its ready client."""
        client = CappedNotebookClient(
            nb,
            km=handle.km,
            timeout=None,  # the whole-run deadline is ours
            allow_errors=False,
            record_timing=True,
            log=self.log,
            max_output_size=self.max_output_size,  # past it: OutputTooLarge, outputs bounded
        )
        # A ready client: nbclient must not build (and wait for) its own.
        client.kc = handle.kc  # type: ignore[assignment]
        client.reset_execution_trackers()
        return client

    async def _execute(
        self,
        client: CappedNotebookClient,
        nb: Any,
        request: RunRequest,
        execution_id: str,
        variables: RunVariables | None = None,
    ) -> Answer:
        """Hand the request over, execute the cells, read the response back."""
        install = handover_expression(
            request, execution_id, max_output_size=self.max_output_size, variables=variables
        )
        reply = await self._silent(client, "", user_expressions={"install": install})
        installed = reply.get("user_expressions", {}).get("install", {})
        if reply["status"] != "ok" or installed.get("status") != "ok":
            failed = installed if installed.get("status") == "error" else reply
            raise RunNotStarted(
                "The request could not be handed to the kernel: "
                f"{failed.get('ename')}: {failed.get('evalue')}"
            )
        # The response is read back with the last code cell's own request (one round
        # trip less); a notebook without code cells asks for it separately.
        executed = _code_cells(nb, client.skip_cells_with_tag)
        last = max(executed, default=None)
        replies: dict[int, dict[str, Any]] = {}

        def on_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
            replies[cell_index] = execute_reply["content"]

        client.on_cell_executed = on_executed
        for index, cell in enumerate(nb.cells):
            if client.events is not None and index in executed:
                client.events.emit(
                    "progress",
                    {"cell": executed[index], "cells": len(executed), "index": index},
                )
            if index == last:
                kc: Any = client.kc
                kc.execute = functools.partial(kc.execute, user_expressions=READBACK)
                try:
                    await client.async_execute_cell(
                        cell, index, execution_count=client.code_cells_executed + 1
                    )
                finally:
                    del kc.execute  # the class's method again
            else:
                await client.async_execute_cell(
                    cell, index, execution_count=client.code_cells_executed + 1
                )
        found = replies.get(last) if last is not None else None
        if found is None:
            found = await self._silent(client, "", user_expressions=READBACK)
        reply = found
        dump = _read_dump(reply)
        check_response_dump(dump, self.max_output_size)
        masker = client.masker
        if masker is None:
            return build_answer(dump, nb.cells, request.accept)
        _mask_outputs(nb, masker)  # what the messages one by one could not show whole
        answer = build_answer(dump, nb.cells, request.accept)
        return dataclasses.replace(
            answer,
            body=masker.data(answer.body),
            headers=[(name, masker.text(value)) for name, value in answer.headers],
        )

    async def _silent(self, client: NotebookClient, code: str, **kwargs: Any) -> dict[str, Any]:
        assert client.kc is not None
        msg_id = client.kc.execute(code, silent=True, store_history=False, **kwargs)
        reply = await client.async_wait_for_reply(msg_id)
        assert reply is not None
        content: dict[str, Any] = reply["content"]
        return content


#: The ``user_expressions`` entry that reads the kernel-side ``response`` back.
READBACK = {"response": "__jupyter_scripting__.dump()"}


def _mask_outputs(nb: Any, masker: Masker) -> None:
    """Mask the run's secrets in every output of the notebook (in place): a stream the
    kernel sent in pieces is whole only here."""
    for cell in nb.cells:
        if "outputs" in cell:
            masker.tree(cell.outputs)


def _code_cells(nb: Any, skip_tag: str) -> dict[int, int]:
    """The cells nbclient will send to the kernel: index → 1, 2, … in order."""
    indices = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and cell.source.strip()
        and skip_tag not in cell.metadata.get("tags", [])
    ]
    return {index: number for number, index in enumerate(indices, 1)}


def _read_dump(reply: dict[str, Any]) -> dict[str, Any] | None:
    """The kernel-side ``response`` state from the ``user_expressions`` reply."""
    expression = reply.get("user_expressions", {}).get("response", {})
    if expression.get("status") != "ok":
        # The script deleted the hand-over state: answer from its outputs alone.
        return None
    try:
        text = ast.literal_eval(expression["data"]["text/plain"])
        dump: dict[str, Any] = json.loads(base64.b64decode(text))
    except (KeyError, ValueError, SyntaxError) as e:
        raise BadScriptAnswer("The script's response could not be read back.") from e
    return dump
