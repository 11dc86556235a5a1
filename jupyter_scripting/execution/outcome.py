"""How a run ended: :class:`Answered` or :class:`Failed`, and :func:`classify`, the one
place where what went wrong (nbclient's errors, the deadline, the output cap, the
sandbox's limits) becomes the error the caller gets and the log keeps.

An outcome is frozen: the service records it as the runner made it (a run the server
stopped shutting down becomes a new outcome, see ``ScriptingService``), and the handler
answers what was recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

from nbclient.exceptions import CellExecutionError, DeadKernelError

from ..errors import (
    KernelDied,
    MemoryLimitReached,
    OutputTooLarge,
    ProcessLimitReached,
    RunNotStarted,
    RunTimedOut,
    ScriptFailed,
    ScriptingError,
)
from .answer import Answer
from .output_cap import RESPONSE_TOO_LARGE, output_cap_message
from .sandbox_policy import Limits

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Answered:
    """The script ran to its end; ``answer`` is what the caller gets."""

    answer: Answer
    notebook: str  # the executed notebook (nbformat JSON text)
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: float

    @property
    def status(self) -> int:
        return self.answer.status


@dataclass(frozen=True)
class Failed:
    """The run did not answer; ``error`` says why (its document is the caller's answer)."""

    error: ScriptingError
    notebook: str | None  # as far as it was executed
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: float
    traceback: str | None = None  # the script's own, for the error document

    @property
    def status(self) -> int:
        return self.error.status


RunOutcome = Answered | Failed


@dataclass(frozen=True)
class Evidence:
    """What the runner knows besides the exception when a run fails."""

    timeout: float  # the run's deadline, in seconds
    timed_out: bool  # whether that deadline passed
    #: The output cap's error, if the run's outputs crossed it (see ``output_cap.py``).
    output_overflow: OutputTooLarge | None = None
    max_output_size: int | None = None
    #: The sandbox limit the kernel hit ("memory", "processes"), read before it was killed.
    limit: str | None = None
    limits: Limits | None = None


@dataclass(frozen=True)
class Failure:
    """:func:`classify`'s verdict."""

    error: ScriptingError
    traceback: str | None = None
    #: Not one of the ways a run is known to fail: worth a traceback in the server's log.
    unexpected: bool = False


def classify(exc: BaseException, evidence: Evidence) -> Failure:
    """The error a run that raised ``exc`` ends with (never for the caller's own
    cancellation, which the runner passes on)."""
    if evidence.output_overflow is not None:
        # The cap stopped the cell's wait; nbclient reports that as a dead kernel.
        return Failure(evidence.output_overflow)
    if isinstance(exc, CellExecutionError):
        if exc.ename == RESPONSE_TOO_LARGE and evidence.max_output_size is not None:
            message = output_cap_message(evidence.max_output_size, response=True)
            return Failure(OutputTooLarge(message))
        failed = ScriptFailed(f"The script raised {exc.ename}: {exc.evalue}")
        return Failure(_limit_error(evidence) or failed, _ANSI.sub("", str(exc)))
    if evidence.timed_out and isinstance(
        exc, (DeadKernelError, asyncio.CancelledError, TimeoutError)
    ):
        # The deadline cancels the run; nbclient may report that as a dead kernel.
        message = f"The run exceeded its timeout of {evidence.timeout:g} s and was stopped."
        return Failure(RunTimedOut(message))
    if isinstance(exc, DeadKernelError):
        died = KernelDied("The kernel died while the script ran.")
        return Failure(_limit_error(evidence) or died)
    if isinstance(exc, asyncio.CancelledError):
        # The kernel's channels closed under the run (the server stops its kernels).
        died = KernelDied("The run's kernel was stopped while the script ran.")
        return Failure(_limit_error(evidence) or died)
    if isinstance(exc, ScriptingError):
        return Failure(exc)
    return Failure(RunNotStarted(f"The run failed: {type(exc).__name__}: {exc}"), unexpected=True)


def _limit_error(evidence: Evidence) -> ScriptFailed | None:
    """The sandbox limit that stopped the script, if one did."""
    limits = evidence.limits
    if evidence.limit is None or limits is None:
        return None
    if evidence.limit == "memory":
        return MemoryLimitReached(
            f"The script used more than {_size(limits.run_memory_limit)} of memory, "
            "the most a run may use; it was stopped. The server's "
            "ScriptingApp.run_memory_limit sets the limit."
        )
    return ProcessLimitReached(
        f"The script tried to run more than {limits.run_max_processes} processes "
        "and threads at once, the most a run may have; it was stopped. The server's "
        "ScriptingApp.run_max_processes sets the limit."
    )


def _size(n: int) -> str:
    """Bytes for a message: "512 MiB", "1 GiB", or the number."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"
