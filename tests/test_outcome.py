"""``classify``: every way a run is known to fail, mapped to the caller's error in one
place (the real-kernel tests in test_run.py, test_limits.py and tests/security show each
arising from a real script)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from nbclient.exceptions import CellExecutionError, DeadKernelError

from jupyter_scripting.errors import (
    BadScriptAnswer,
    KernelDied,
    MemoryLimitReached,
    OutputTooLarge,
    ProcessLimitReached,
    RunNotStarted,
    RunTimedOut,
    ScriptFailed,
)
from jupyter_scripting.execution.answer import Answer
from jupyter_scripting.execution.outcome import Answered, Evidence, Failed, classify
from jupyter_scripting.execution.output_cap import RESPONSE_TOO_LARGE
from jupyter_scripting.execution.sandbox_policy import Limits

LIMITS = Limits(run_memory_limit=1 << 30, run_max_processes=64, run_max_file_size=0, run_tmp_size=0)
QUIET = Evidence(timeout=5.0, timed_out=False, max_output_size=1000, limits=LIMITS)


def cell_error(ename: str, evalue: str = "boom") -> CellExecutionError:
    return CellExecutionError(f"\x1b[31m{ename}\x1b[0m: {evalue}", ename, evalue)


def test_a_script_error_is_502_with_its_traceback_without_colours() -> None:
    failure = classify(cell_error("ValueError"), QUIET)
    assert type(failure.error) is ScriptFailed and failure.error.status == 502
    assert str(failure.error) == "The script raised ValueError: boom"
    assert failure.traceback == "ValueError: boom"
    assert not failure.unexpected


@pytest.mark.parametrize("exc", [DeadKernelError("dead"), asyncio.CancelledError(), TimeoutError()])
def test_past_the_deadline_it_is_504(exc: BaseException) -> None:
    failure = classify(exc, dataclasses.replace(QUIET, timed_out=True))
    assert isinstance(failure.error, RunTimedOut) and failure.error.status == 504
    assert "timeout of 5 s" in str(failure.error)


def test_a_script_error_stays_one_even_past_the_deadline() -> None:
    failure = classify(cell_error("KeyError"), dataclasses.replace(QUIET, timed_out=True))
    assert type(failure.error) is ScriptFailed


def test_a_dead_or_stopped_kernel() -> None:
    died = classify(DeadKernelError("dead"), QUIET).error
    assert type(died) is KernelDied and "died" in str(died)
    stopped = classify(asyncio.CancelledError(), QUIET).error
    assert type(stopped) is KernelDied and "stopped" in str(stopped)


@pytest.mark.parametrize(
    ("limit", "kind", "words"),
    [("memory", MemoryLimitReached, "1 GiB"), ("processes", ProcessLimitReached, "64 processes")],
)
@pytest.mark.parametrize("exc", [cell_error("MemoryError"), DeadKernelError("dead")])
def test_a_sandbox_limit_names_itself(
    limit: str, kind: type[Exception], words: str, exc: BaseException
) -> None:
    failure = classify(exc, dataclasses.replace(QUIET, limit=limit))
    assert type(failure.error) is kind and failure.error.status == 502
    assert words in str(failure.error)


def test_the_output_cap_comes_first() -> None:
    overflow = OutputTooLarge("too much")
    for exc in (DeadKernelError("dead"), asyncio.CancelledError(), cell_error("X")):
        evidence = dataclasses.replace(QUIET, output_overflow=overflow, timed_out=True)
        assert classify(exc, evidence).error is overflow


def test_response_write_past_the_cap() -> None:
    failure = classify(cell_error(RESPONSE_TOO_LARGE), QUIET)
    assert isinstance(failure.error, OutputTooLarge)
    assert "response.write()" in str(failure.error) and "1000 bytes" in str(failure.error)
    # Without a cap the name is a script's own exception like any other.
    uncapped = dataclasses.replace(QUIET, max_output_size=None)
    assert type(classify(cell_error(RESPONSE_TOO_LARGE), uncapped).error) is ScriptFailed


def test_our_own_errors_pass_and_anything_else_is_unexpected() -> None:
    bad = BadScriptAnswer("no")
    assert classify(bad, QUIET).error is bad
    failure = classify(RuntimeError("surprise"), QUIET)
    assert isinstance(failure.error, RunNotStarted) and failure.unexpected
    assert str(failure.error) == "The run failed: RuntimeError: surprise"


def test_an_outcome_is_frozen() -> None:
    now = dt.datetime.now(dt.UTC)
    answered = Answered(Answer(200, "application/json", b"{}"), "{}", now, now, 1.0)
    failed = Failed(KernelDied("x"), None, now, now, 1.0)
    assert (answered.status, failed.status) == (200, 502)
    with pytest.raises(dataclasses.FrozenInstanceError):
        failed.error = ScriptFailed("y")  # type: ignore[misc]
