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
import datetime as dt
import functools
import json
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from ..errors import (
    BadScriptAnswer,
    KernelDied,
    MemoryLimitReached,
    ProcessLimitReached,
    RunNotStarted,
    RunTimedOut,
    ScriptFailed,
    ScriptingError,
)
from .answer import Answer, build_answer
from .kernels import KernelHandle, KernelProvider
from .limits import CappedNotebookClient, check_response_dump

DEFAULT_KERNEL = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
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


@dataclass
class RunOutcome:
    """How a run ended: an answer, or an error; and what goes into its log."""

    answer: Answer | None
    error: ScriptingError | None
    notebook: str | None
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: float
    traceback: str | None = None
    kernel_pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """The status code the caller gets and the log records."""
        if self.error is not None:
            return self.error.status
        assert self.answer is not None
        return self.answer.status


def handover_code(
    request: RunRequest, execution_id: str, *, max_output_size: int | None = None
) -> str:
    """Source that defines ``request``/``response`` in a kernel without this package
    (``max_output_size``: the cap the kernel side puts on ``response.write()`` and on
    what stdout/stderr pass on)."""
    payload = {
        **request.as_dict(),
        "execution_id": execution_id,
        "max_output_size": max_output_size,
    }
    encoded = base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")
    return (
        kernel_side_source()
        + f"\n__jupyter_scripting_install__({encoded!r}, globals())"
        + "\ndel __jupyter_scripting_install__\n"
    )


def handover_expression(
    request: RunRequest, execution_id: str, *, max_output_size: int | None = None
) -> str:
    """:func:`handover_code` as one expression, evaluated as a ``user_expressions`` entry.

    The kernel then compiles it with Python's own compiler, instead of passing ~10 kB of
    code (and the request body) through IPython's cell transformers as a cell would:
    that took most of a warm run's time."""
    code = handover_code(request, execution_id, max_output_size=max_output_size)
    return f"exec(compile({code!r}, '<jupyter-scripting>', 'exec'), globals())"


@functools.cache
def kernel_side_source() -> str:
    """The kernel-side code, read once (not on every run)."""
    return _KERNEL_SIDE.read_text(encoding="utf-8")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Runner(LoggingConfigurable):
    """Executes a notebook for a request in a fresh kernel, within a whole-run deadline."""

    kernels = Instance(KernelProvider)
    #: ``ScriptingApp.max_output_size``, passed in (not configurable here).
    max_output_size = Integer(
        None, allow_none=True, help="Bytes of output a run may produce; None: no cap."
    )

    async def run(
        self, notebook: str, request: RunRequest, *, execution_id: str, timeout: float
    ) -> RunOutcome:
        """Run ``notebook`` for ``request``; never raises for the script's own failures."""
        started_at, start = _utcnow(), time.perf_counter()
        nb = nbformat.reads(notebook, as_version=4)
        kernel_name = (nb.metadata.get("kernelspec") or {}).get("name") or DEFAULT_KERNEL
        answer: Answer | None = None
        error: ScriptingError | None = None
        traceback: str | None = None
        handle: KernelHandle | None = None
        timed_out = False
        ename: str | None = None

        holder: list[KernelHandle] = []

        async def acquire_and_execute() -> Answer:
            holder.append(await self.kernels.acquire(kernel_name))
            return await self._execute(holder[0], nb, request, execution_id)

        work = asyncio.ensure_future(acquire_and_execute())

        def on_deadline() -> None:
            # nbclient reports cancellation as a dead kernel: the flag tells them apart.
            nonlocal timed_out
            timed_out = True
            work.cancel()

        deadline = asyncio.get_running_loop().call_later(timeout, on_deadline)

        def deadline_passed() -> RunTimedOut:
            return RunTimedOut(f"The run exceeded its timeout of {timeout:g} s and was stopped.")

        def caller_cancelled() -> bool:
            current = asyncio.current_task()
            return not timed_out and current is not None and current.cancelling() > 0

        try:
            try:
                answer = await work
            except BaseException:
                if caller_cancelled():
                    # Cancelled from outside (the caller went away, the server stops):
                    # nbclient may have reported it as a dead kernel; it is not ours to
                    # answer either way.
                    raise asyncio.CancelledError from None
                raise
        except asyncio.CancelledError:
            if caller_cancelled():
                raise
            # Our deadline, or the kernel's channels closed under it (server shutdown).
            error = (
                deadline_passed()
                if timed_out
                else KernelDied("The run's kernel was stopped while the script ran.")
            )
        except CellExecutionError as e:
            error = ScriptFailed(f"The script raised {e.ename}: {e.evalue}")
            ename = e.ename
            traceback = _ANSI.sub("", str(e))
        except DeadKernelError:
            if timed_out:
                error = deadline_passed()
            else:
                error = KernelDied("The kernel died while the script ran.")
        except ScriptingError as e:
            error = e
        except Exception as e:
            self.log.exception("Run %s failed unexpectedly", execution_id)
            error = RunNotStarted(f"The run failed: {type(e).__name__}: {e}")
        finally:
            deadline.cancel()
            handle = holder[0] if holder else None
            if handle is not None:
                if type(error) in (ScriptFailed, KernelDied):
                    # Read before the kernel's cgroups go with it.
                    error = self._limit_error(handle, ename) or error
                if error is not None or answer is None:
                    # Kill before answering, so a 504 means the kernel is gone.
                    await self.kernels.release(handle)
                else:
                    self.kernels.release_soon(handle)
        if error is not None:
            error.execution_id = execution_id
        finished_at = _utcnow()
        return RunOutcome(
            answer=answer,
            error=error,
            notebook=nbformat.writes(nb),
            started_at=started_at,
            finished_at=finished_at,
            duration_ms=(time.perf_counter() - start) * 1000,
            traceback=traceback,
            kernel_pid=handle.pid if handle else None,
        )

    def _limit_error(self, handle: KernelHandle, ename: str | None) -> ScriptFailed | None:
        """The sandbox limit that stopped the script, if one did."""
        limit = self.kernels.limit_reached(handle, ename)
        sandbox = self.kernels.sandbox
        if limit is None or sandbox is None:
            return None
        if limit == "memory":
            return MemoryLimitReached(
                f"The script used more than {_size(sandbox.limits.run_memory_limit)} of memory, "
                "the most a run may use; it was stopped. The server's "
                "ScriptingApp.run_memory_limit sets the limit."
            )
        return ProcessLimitReached(
            f"The script tried to run more than {sandbox.limits.run_max_processes} processes "
            "and threads at once, the most a run may have; it was stopped. The server's "
            "ScriptingApp.run_max_processes sets the limit."
        )

    async def _execute(
        self, handle: KernelHandle, nb: Any, request: RunRequest, execution_id: str
    ) -> Answer:
        client = CappedNotebookClient(
            nb,
            km=handle.km,
            timeout=None,  # the whole-run deadline is ours
            allow_errors=False,
            record_timing=True,
            log=self.log,
            max_output_size=self.max_output_size,  # past it: OutputTooLarge, outputs bounded
        )
        client.kc = handle.kc  # a ready client: nbclient must not build (and wait for) its own
        client.reset_execution_trackers()
        install = handover_expression(request, execution_id, max_output_size=self.max_output_size)
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
        last = _last_code_cell(nb, client.skip_cells_with_tag)
        replies: dict[int, dict[str, Any]] = {}

        def on_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
            replies[cell_index] = execute_reply["content"]

        client.on_cell_executed = on_executed
        for index, cell in enumerate(nb.cells):
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
        reply = replies.get(last) if last is not None else None
        if reply is None:
            reply = await self._silent(client, "", user_expressions=READBACK)
        dump = _read_dump(reply)
        check_response_dump(dump, self.max_output_size)
        return build_answer(dump, nb.cells, request.accept)

    async def _silent(self, client: NotebookClient, code: str, **kwargs: Any) -> dict[str, Any]:
        assert client.kc is not None
        msg_id = client.kc.execute(code, silent=True, store_history=False, **kwargs)
        reply = await client.async_wait_for_reply(msg_id)
        assert reply is not None
        content: dict[str, Any] = reply["content"]
        return content


#: The ``user_expressions`` entry that reads the kernel-side ``response`` back.
READBACK = {"response": "__jupyter_scripting__.dump()"}


def _size(n: int) -> str:
    """Bytes for a message: "512 MiB", "1 GiB", or the number."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def _last_code_cell(nb: Any, skip_tag: str) -> int | None:
    """Index of the last cell nbclient will send to the kernel, if any."""
    for index in range(len(nb.cells) - 1, -1, -1):
        cell = nb.cells[index]
        if (
            cell.cell_type == "code"
            and cell.source.strip()
            and skip_tag not in cell.metadata.get("tags", [])
        ):
            return index
    return None


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
