"""What the commands print: tables, JSON, key summaries, a script's answer and its status line.

Data goes to stdout (a script's answer byte for byte, tables, ``--json``), everything
about it to stderr (status lines, progress, errors), so that pipes get the data. Shared by
the key commands on the store and through a server, so that both print the same. Only the
standard library: the client commands must start fast.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .client import Answer, ServerError, charset_of, is_textual
from .errors import EXIT_ERROR, EXIT_OK, UsageError
from .progress import format_seconds

if TYPE_CHECKING:
    from .models import ExecutionModel, ScriptListItem, ScriptModel


def err(text: str) -> None:
    """A line on stderr, at once."""
    print(text, file=sys.stderr, flush=True)


def phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``OK``, ``Not Found``, …)."""
    return Answer(status, [], b"", "").phrase


def print_table(rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Print ``rows`` (the first is the header) in columns two spaces apart."""
    out = out or sys.stdout
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


# -- scripts and executions ---------------------------------------------------------------
def print_scripts(scripts: Sequence[ScriptListItem]) -> None:
    """What ``list`` prints: a table of the scripts, with how each one's last run went."""
    if not scripts:
        print("No scripts.")
        return
    rows = [("ID", "NAME", "VERSION", "UPDATED", "LAST RUN")]
    rows += [
        (
            s["scriptId"],
            s["name"],
            str(s["version"]),
            s.get("updatedAt") or "",
            _last_run(s.get("lastExecution")),
        )
        for s in scripts
    ]
    print_table(rows)


def describe_retries(retries: Mapping[str, Any] | None) -> str:
    """``2 more attempts on 502, 504, 30 s apart (doubling)``, or ``none``."""
    if not retries:
        return "none"
    on = ", ".join(str(s) for s in retries.get("on") or [])
    return (
        f"up to {retries['max']} more attempts on {on}, "
        f"{float(retries.get('backoff') or 0):g} s after a failure (doubling)"
    )


def print_script(script: ScriptModel, schema: Mapping[str, Any], run_url: str) -> None:
    """What ``show ID`` prints: the script's settings, then a table of its parameters."""
    timeout = script.get("timeout")
    setting = script.get("parameters")
    mode = schema.get("x-parameters", "off")
    print(f"Script {script['name']!r}")
    print(f"ID:         {script['scriptId']}")
    print(f"Version:    {script['version']} (updated {script.get('updatedAt') or '-'})")
    print(f"Timeout:    {'the service default' if timeout is None else f'{timeout:g} s'}")
    by = "set on the script" if setting is not None else "by the notebook"
    print(f"Parameters: {mode} ({by})")
    print(f"Variables:  {', '.join(script.get('variables') or []) or 'none'}")
    print(f"Retries:    {describe_retries(script.get('retries'))}")
    print(f"Run:        {run_url}")
    print(f"            jupyter scripting run {script['scriptId']}")
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if mode == "off":
        print("\nIt takes no parameters: the request's body is the script's own.")
        return
    if not properties:
        print("\nIts parameters cell declares no names.")
        return
    print()
    rows = [("PARAMETER", "TYPE", "DEFAULT", "DESCRIPTION")]
    for name, prop in properties.items():
        kind = prop.get("type", "any")
        written = str(prop.get("x-python", ""))
        # The default as the notebook writes it (Python), else as JSON.
        default = (
            written.split(" = ", 1)[1] if " = " in written else json.dumps(prop.get("default"))
        )
        rows.append(
            (name, "|".join(kind) if isinstance(kind, list) else str(kind), default,
             str(prop.get("description") or ""))
        )  # fmt: skip
    print_table(rows)
    if mode == "lenient":
        print("Other names are passed on unchecked (lenient).")


def print_schedules(schedules: Sequence[Mapping[str, Any]]) -> None:
    """What ``schedule list`` prints: a table of the schedules."""
    if not schedules:
        print("No schedules.")
        return
    rows = [("ID", "CRON", "TIMEZONE", "STATE", "NEXT RUN", "LAST TICK", "BODY")]
    for s in schedules:
        next_runs = s.get("nextRuns") or []
        rows.append(
            (
                str(s["scheduleId"]),
                str(s["cron"]),
                str(s["timezone"]),
                "active" if s.get("enabled") else "paused",
                str(next_runs[0]) if next_runs else "-",
                str(s.get("lastTickAt") or "-"),
                "-" if s.get("body") is None else json.dumps(s["body"]),
            )
        )
    print_table(rows)


def print_deliveries(deliveries: Sequence[Mapping[str, Any]]) -> None:
    """What ``webhook deliveries`` prints: each delivery, then a row per attempt."""
    if not deliveries:
        print("No deliveries (the run had nowhere to go, or has not ended).")
        return
    rows = [("DELIVERY", "URL", "STATE", "ATTEMPT", "AT", "STATUS", "ERROR")]
    for d in deliveries:
        attempts = d.get("attempts") or [{}]
        for a in attempts:
            rows.append(
                (
                    str(d["deliveryId"]),
                    str(d["url"]),
                    str(d["state"]),
                    str(a.get("attempt") or "-"),
                    str(a.get("at") or d.get("nextAttemptAt") or "-"),
                    str(a.get("statusCode") or "-"),
                    str(a.get("error") or "-"),
                )
            )
    print_table(rows)


def print_variables(variables: Sequence[Mapping[str, Any]]) -> None:
    """What ``secret list`` prints: a table of the variables (never a value)."""
    if not variables:
        print("No variables.")
        return
    rows = [("NAME", "KIND", "CREATED", "UPDATED")]
    for v in variables:
        kind = "secret" if v.get("secret") else "plain"
        rows.append((str(v["name"]), kind, str(v["createdAt"]), str(v["updatedAt"])))
    print_table(rows)


def _last_run(execution: ExecutionModel | None) -> str:
    """``200 2026-11-29T10:00:05Z``, the state while unfinished, or ``-`` if it never ran."""
    if not execution:
        return "-"
    outcome = execution.get("statusCode") or execution.get("state") or "?"
    return f"{outcome} {execution.get('executionDate') or ''}".rstrip()


def print_executions(entries: Sequence[ExecutionModel]) -> None:
    """What ``logs ID`` prints: a table of the executions, newest first."""
    rows = [("EXECUTION ID", "DATE", "STATUS", "STATE", "MODE", "METHOD", "VERSION", "DURATION")]
    for entry in entries:
        duration = entry.get("durationMs")
        rows.append(
            (
                str(entry["executionId"]),
                str(entry.get("executionDate") or ""),
                "-" if entry.get("statusCode") is None else str(entry["statusCode"]),
                str(entry.get("state") or ""),
                str(entry.get("mode") or ""),
                str(entry.get("method") or ""),
                str(entry.get("version") or ""),
                "-" if duration is None else format_seconds(duration / 1000),
            )
        )
    print_table(rows)


# -- keys -------------------------------------------------------------------------------------
def print_created_key(model: Mapping[str, Any], key: str) -> None:
    """What ``key create`` prints: a summary, then the key alone on the last line."""
    print(
        f"Created API key {model['keyId']} for user {model['user']!r} of tenant "
        f"{model['tenant']!r}, role {model['role']}. It is shown only this once:"
    )
    print(key)


def print_key_list(models: Iterable[Mapping[str, Any]]) -> None:
    """What ``key list`` prints: a table of keys, newest first (never a secret)."""
    keys = list(models)
    if not keys:
        print("No API keys.")
        return
    rows = [("ID", "TENANT", "USER", "ROLE", "CREATED", "REVOKED")]
    rows += [
        (
            str(k["keyId"]),
            str(k["tenant"]),
            str(k["user"]),
            str(k["role"]),
            str(k.get("createdAt") or ""),
            str(k.get("revokedAt") or "-"),
        )
        for k in keys
    ]
    print_table(rows)


def print_revoked_key(model: Mapping[str, Any]) -> None:
    """What ``key revoke`` prints."""
    print(
        f"API key {model['keyId']} of user {model['user']!r} of tenant {model['tenant']!r} "
        f"is revoked (since {model['revokedAt']})."
    )


# -- a script's answer ------------------------------------------------------------------------
def answer_model(answer: Answer, status: int) -> dict[str, Any]:
    """``--json`` of an answer: the body as text when it is text, else base64."""
    text: str | None = None
    if is_textual(answer.content_type) or (not answer.content_type and not answer.body):
        try:
            text = answer.body.decode(charset_of(answer.content_type))
        except (UnicodeDecodeError, LookupError):
            text = None
    return {
        "status": status,
        "executionId": answer.header("X-Execution-Id"),
        "contentType": answer.content_type,
        # The server's login cookie is no part of the script's answer.
        "headers": {k: v for k, v in answer.headers if k.lower() != "set-cookie"},
        "body": text if text is not None else base64.b64encode(answer.body).decode("ascii"),
        "base64": text is None,
    }


def write_body(body: bytes, content_type: str | None, output: str | None) -> str | None:
    """Write ``body`` to ``output`` (a file, or stdout for None/-); a note for stderr."""
    if output and output != "-":
        try:
            Path(output).write_bytes(body)
        except OSError as exc:
            raise UsageError(f"Cannot write {output}: {exc.strerror or exc}.") from None
        return f"written to {output}"
    textual = is_textual(content_type)
    if sys.stdout.isatty() and body and not textual:
        return "binary, not shown on a terminal: use --output FILE or a pipe"
    sys.stdout.flush()
    sys.stdout.buffer.write(body)
    if body and not body.endswith(b"\n") and _shown_with_stderr():
        # Keeps the prompt, or the status line that follows on stderr, off the answer's
        # last line (a pipe or file of stdout alone gets the body's bytes exactly).
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
    return None


def _shown_with_stderr() -> bool:
    """Whether stdout is a terminal or the same file or pipe as stderr (``2>&1``)."""
    if sys.stdout.isatty():
        return True
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def print_answer(
    answer: Answer,
    status: int,
    *,
    as_json: bool,
    output: str | None,
    quiet: bool,
    elapsed: float | None = None,
    hint: str | None = None,
) -> int:
    """Print a run's answer (``status`` is the script's): body, status line; the exit
    status. A failed run (an error document) is a ``ServerError``, with ``hint``."""
    failure = ServerError(Answer(status, answer.headers, answer.body, answer.url), hint)
    if status >= 400 and answer.error_document() is not None:
        if as_json:
            print_json(answer_model(answer, status))
        raise failure
    if as_json:
        print_json(answer_model(answer, status))
        if output:
            write_body(answer.body, answer.content_type, output)
    else:
        note = write_body(answer.body, answer.content_type, output)
        if not quiet:
            parts = [f"{status} {failure.answer.phrase}"]
            parts.append(answer.content_type or "no content")
            parts.append(f"{len(answer.body)} bytes" + (f", {note}" if note else ""))
            if execution := answer.header("X-Execution-Id"):
                parts.append(f"execution {execution}")
            if elapsed is not None:
                parts.append(format_seconds(elapsed))
            err(" · ".join(parts))
    return EXIT_ERROR if status >= 400 else EXIT_OK
