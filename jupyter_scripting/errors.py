"""Exceptions named after what happened, each mapped to one HTTP status.

Handlers never build error answers by hand: they raise one of these (or let the
store and runner raise them) and :class:`~jupyter_scripting.handlers.base.ScriptingHandler`
turns it into ``{"message", "reason", "executionId"}`` with the status below.
"""

from __future__ import annotations


class ScriptingError(Exception):
    """Base class: ``status`` is the HTTP status, ``reason`` a short stable word."""

    status: int = 500
    reason: str = "error"

    def __init__(self, message: str, *, execution_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.execution_id = execution_id

    def document(self, traceback: str | None = None) -> dict[str, object]:
        """The error as the API shows it (and the log keeps it, with its traceback)."""
        document: dict[str, object] = {
            "message": self.message,
            "reason": self.reason,
            "executionId": self.execution_id,
        }
        document.update(self.details())
        if traceback:
            document["traceback"] = traceback
        return document

    def details(self) -> dict[str, object]:
        """What this kind of error says beside its message, in the API's answer and the
        log alike (nothing by default)."""
        return {}


class BadRequest(ScriptingError):
    """The caller sent something we cannot use (bad JSON, bad notebook, bad parameter)."""

    status = 400
    reason = "bad-request"


class InvalidParameters(ScriptingError):
    """The request's values do not fit the script's parameters (README, "Parameters")."""

    status = 422
    reason = "invalid-parameters"

    def __init__(self, problems: list[dict[str, str]], *, execution_id: str | None = None):
        listed = "; ".join(f"{p['name']}: {p['problem']}" for p in problems)
        super().__init__(
            f"The script's parameters were not given right: {listed}.", execution_id=execution_id
        )
        self.problems = problems

    def details(self) -> dict[str, object]:
        return {"problems": self.problems}


class NotAuthenticated(ScriptingError):
    """No identity could be established for the caller."""

    status = 401
    reason = "not-authenticated"


class NotFound(ScriptingError):
    """Something does not exist, or belongs to another tenant."""

    status = 404
    reason = "not-found"


class ScriptNotFound(NotFound):
    """No such script in the caller's tenant (or a malformed id)."""

    def __init__(self, script_id: str = "") -> None:
        super().__init__(f"No script with id {script_id!r}." if script_id else "No such script.")


class VersionNotFound(NotFound):
    """The script exists, but not in that version."""

    def __init__(self, script_id: str, version: int) -> None:
        super().__init__(f"Script {script_id!r} has no version {version}.")


class ScheduleNotFound(NotFound):
    """No such schedule of that script in the caller's tenant."""

    def __init__(self, schedule_id: str = "") -> None:
        super().__init__(
            f"No schedule with id {schedule_id!r}." if schedule_id else "No such schedule."
        )


class ExecutionNotFound(NotFound):
    """No such execution of that script in the caller's tenant."""

    def __init__(self, execution_id: str = "") -> None:
        super().__init__(
            f"No execution with id {execution_id!r}." if execution_id else "No such execution."
        )


class VariableNotFound(NotFound):
    """No variable of that name in the caller's tenant (README, "Variables and secrets")."""

    def __init__(self, name: str = "") -> None:
        super().__init__(f"No variable named {name!r}." if name else "No such variable.")


class ApiKeyNotFound(NotFound):
    """No such API key (in the caller's tenant)."""

    def __init__(self, key_id: str = "") -> None:
        super().__init__(f"No API key with id {key_id!r}." if key_id else "No such API key.")


class Forbidden(ScriptingError):
    """The caller is known but its role does not allow this."""

    status = 403
    reason = "forbidden"


class StoreError(ScriptingError):
    """The database failed (not the caller's fault)."""

    status = 500
    reason = "store-error"


class StoreMisconfigured(StoreError):
    """``database_url`` cannot be used: not a URL, an unknown database, or its driver is
    not installed. The server refuses to start with this message."""


class StoreUnavailable(StoreError):
    """The store could not be opened (the database is down or unreachable); the server
    keeps trying."""

    retry_after = 5


class RunNotStarted(ScriptingError):
    """The run could not be started: no kernel could be had."""

    status = 500
    reason = "not-started"


class RunInterrupted(ScriptingError):
    """The server stopped (or died) while the run executed."""

    status = 500
    reason = "interrupted"


class NodeLost(ScriptingError):
    """The node running the script stopped answering (its heartbeat is older than
    ``ScriptingApp.node_timeout``); another node recorded the run as failed. Runs are
    never executed again on their own: a notebook need not be idempotent."""

    status = 500
    reason = "node-lost"


class ClientDisconnected(ScriptingError):
    """The caller of a synchronous run went away before its answer (nginx's 499)."""

    status = 499
    reason = "client-disconnected"


class ServiceStopping(ScriptingError):
    """The server is shutting down and takes no new runs."""

    status = 503
    reason = "shutting-down"
    retry_after = 5


class ScriptFailed(ScriptingError):
    """The script could not fully execute: an uncaught exception."""

    status = 502
    reason = "script-error"


class KernelDied(ScriptFailed):
    """The kernel died while the script ran."""

    reason = "kernel-died"


class BadScriptAnswer(ScriptFailed):
    """The script's answer cannot be sent (e.g. a status outside 200-599)."""

    reason = "bad-answer"


class RunTimedOut(ScriptingError):
    """The run exceeded its deadline; its kernel was killed."""

    status = 504
    reason = "timeout"


class HeadersTooLarge(ScriptingError):
    """The request's headers total more than ``ScriptingApp.max_header_size``."""

    status = 431
    reason = "headers-too-large"


class BodyTooLarge(ScriptingError):
    """The request's body is larger than ``ScriptingApp.max_body_size``."""

    status = 413
    reason = "body-too-large"


class OutputTooLarge(ScriptFailed):
    """The script produced more than ``ScriptingApp.max_output_size``; its kernel was killed."""

    reason = "output-too-large"


class MemoryLimitReached(ScriptFailed):
    """The script used more memory than ``ScriptingApp.run_memory_limit``; it was stopped."""

    reason = "memory-limit"


class ProcessLimitReached(ScriptFailed):
    """The script tried to run more processes than ``ScriptingApp.run_max_processes``."""

    reason = "process-limit"
