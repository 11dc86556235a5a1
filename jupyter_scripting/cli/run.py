"""``jupyter scripting run``: a synchronous run, or a background one (``--wait`` follows it)."""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

from .api import RunRequest, ScriptingAPI
from .client import Answer, ServerError
from .errors import EXIT_OK, Interrupted, UsageError
from .options import DEFAULT_RUN_TIMEOUT, Commands, api_for, as_json, usage
from .progress import Progress
from .render import err, phrase, print_answer, print_json

#: The methods a script may be run with.
METHODS = ("POST", "GET", "PUT", "DELETE", "PATCH")


def add_parser(commands: Commands) -> None:
    """``run``."""
    run = commands.add(
        "run",
        "run a script (synchronously, or in the background)",
        """Run the script ID. A synchronous run writes the script's answer to stdout byte
for byte (or to --output) and its status line to stderr. --background queues the run
and prints its execution id; with --wait it follows the run until it is finished (a
progress display on stderr), then prints its answer like a synchronous run; with
--follow it prints the run's output live on stderr (its live events: each cell as it
starts, what the script prints), then its answer.""",
        "examples:\n"
        '  jupyter scripting run ID --data \'{"name": "John Smith"}\'\n'
        "  jupyter scripting run ID -X GET --query n=3 --accept image/png -o chart.png\n"
        "  jupyter scripting run ID --data-file input.csv --content-type text/csv\n"
        "  jupyter scripting run ID --background --wait\n"
        "  jupyter scripting run ID --background --follow",
    )
    run.add_argument("script_id", metavar="ID", help="the script's id")
    run.add_argument(
        "--method",
        "-X",
        type=str.upper,
        choices=METHODS,
        help="the HTTP method (default POST with a body, else GET)",
    )
    body = run.add_mutually_exclusive_group()
    body.add_argument(
        "--data",
        "-d",
        metavar="STR",
        help="the request body (JSON → application/json, else text/plain by default)",
    )
    body.add_argument(
        "--data-file", metavar="FILE", help="the request body from FILE (- for stdin)"
    )
    run.add_argument("--content-type", metavar="TYPE", help="the body's Content-Type")
    run.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    run.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeatable)",
    )
    run.add_argument("--accept", metavar="TYPE", help="the Accept header (e.g. image/png)")
    run.add_argument(
        "--background",
        action="store_true",
        help="queue the run (202) instead of waiting for its answer",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="with --background: follow the run until it is finished, then print its answer",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="with --background: print the run's output live (stderr: its stdout and stderr, "
        "cell by cell), then its answer",
    )
    run.add_argument("--output", "-o", metavar="FILE", help="write the answer's body to FILE")
    run.add_argument("--quiet", action="store_true", help="no status line, no progress")
    run.set_defaults(handler=cmd_run)


def request_from(args: argparse.Namespace) -> RunRequest:
    """The request the options describe: method, body, headers and query parameters."""
    body, content_type = _request_body(args)
    return RunRequest(args.method, body, _request_headers(args, content_type), _query(args))


def _request_body(args: argparse.Namespace) -> tuple[bytes | None, str | None]:
    """The body to send and the content type it calls for (unless one is given)."""
    if args.data is not None:
        try:
            json.loads(args.data)
        except ValueError:
            return args.data.encode("utf-8"), "text/plain; charset=utf-8"
        return args.data.encode("utf-8"), "application/json"
    if args.data_file is None:
        return None, None
    if args.data_file == "-":
        return sys.stdin.buffer.read(), "application/octet-stream"
    try:
        data = Path(args.data_file).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {args.data_file}: {exc.strerror or exc}.") from None
    guessed, _ = mimetypes.guess_type(args.data_file)
    return data, guessed or "application/octet-stream"


def _request_headers(args: argparse.Namespace, content_type: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in args.header:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in line for c in "\r\n\0"):
            raise UsageError(f"--header {line!r}: write it as 'Name: value'.")
        headers[name.strip()] = value.strip()
    if args.content_type:
        headers["Content-Type"] = args.content_type
    elif content_type and not any(n.lower() == "content-type" for n in headers):
        headers["Content-Type"] = content_type
    if args.accept:
        headers["Accept"] = args.accept
    return headers


def _query(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = []
    for item in args.query:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--query {item!r}: write it as name=value.")
        pairs.append((name, value))
    return pairs


def cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if (args.wait or args.follow) and not args.background:
        usage(parser, "--wait and --follow follow a background run: add --background")
    request = request_from(args)
    api = api_for(args)
    timeout = getattr(args, "timeout", None)
    if not args.background:
        started = time.monotonic()
        wait = DEFAULT_RUN_TIMEOUT if timeout is None else timeout
        answer = api.run(args.script_id, request, timeout=wait)
        elapsed = time.monotonic() - started
        return _print(args, answer, answer.status, elapsed, api.run_hint(args.script_id, answer))
    queued = api.run_background(args.script_id, request, timeout=timeout)
    if args.follow:
        return follow_events(args, api, queued.execution_id)
    if args.wait:
        return follow(args, api, queued.execution_id)
    if as_json(args):
        print_json({"executionId": queued.execution_id, "location": queued.location})
    else:
        print(queued.execution_id)
        if not args.quiet:
            err(f"Queued execution {queued.execution_id} of script {args.script_id}.")
            err(f"Its log: {queued.location}")
            err(f"Follow it: jupyter scripting logs {args.script_id} {queued.execution_id}")
    return EXIT_OK


def follow(args: argparse.Namespace, api: ScriptingAPI, execution_id: str) -> int:
    """Follow a background run's log until it is finished, then print its answer."""
    progress = Progress(execution_id, sys.stderr)
    quiet = args.quiet
    state, interval, next_poll = "queued", 0.2, 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= next_poll:
                answer = api.execution(args.script_id, execution_id)
                if answer.status != 202:
                    break
                state = str(answer.json().get("state") or state)
                interval = min(interval * 1.5, 1.0)
                next_poll = time.monotonic() + interval
            if not quiet:
                progress.update(state)
            pause = 0.1 if progress.tty else next_poll - time.monotonic()
            time.sleep(max(0.02, min(pause, 1.0)))
    except KeyboardInterrupt:
        progress.clear()
        raise Interrupted(
            f"Stopped waiting; execution {execution_id} goes on on the server. Follow it "
            f"with: jupyter scripting logs {args.script_id} {execution_id}"
        ) from None
    except ServerError:
        progress.clear()
        raise
    status, failed = run_status(answer), ran_into_error(answer)
    if not quiet:
        progress.finish(f"{'failed' if failed else 'finished'}, {status} {phrase(status)},")
    return _print_logged(args, answer, execution_id)


def follow_events(args: argparse.Namespace, api: ScriptingAPI, execution_id: str) -> int:
    """Print a background run's live events on stderr as they come, then its answer."""
    try:
        for kind, data, _ in api.execution_events(args.script_id, execution_id):
            if args.quiet:
                continue
            if kind == "state":
                err(f"[{execution_id}: {data.get('state')}]")
            elif kind == "progress":
                err(f"[cell {data.get('cell')} of {data.get('cells')}]")
            elif kind == "stream":
                sys.stderr.write(str(data.get("text", "")))
                sys.stderr.flush()
            elif kind == "display":
                shown = (data.get("data") or {}).get("text/plain")
                err(str(shown) if shown is not None else "[a display output]")
            elif kind == "cell-error":
                err(f"[error] {data.get('ename')}: {data.get('evalue')}")
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped following; execution {execution_id} goes on on the server. Follow it "
            f"with: jupyter scripting logs {args.script_id} {execution_id}"
        ) from None
    answer = api.execution(args.script_id, execution_id)
    if answer.status == 202:  # (the stream ended before the log did: wait for it)
        return follow(args, api, execution_id)
    return _print_logged(args, answer, execution_id)


def _print_logged(args: argparse.Namespace, answer: Answer, execution_id: str) -> int:
    """Print what a background run answered (its log's content), as a sync run's."""
    hint = f"Its traceback: jupyter scripting logs {args.script_id} {execution_id}"
    failed = ran_into_error(answer)
    return _print(args, answer, run_status(answer), None, hint if failed else None)


def ran_into_error(answer: Answer) -> bool:
    """The logged answer is the error document of a failed run."""
    return run_status(answer) >= 400 and answer.error_document() is not None


def run_status(answer: Answer) -> int:
    """The status the run answered (the log read itself answers 200)."""
    raw = answer.header("X-Execution-Status") or ""
    return int(raw) if raw.isdigit() else answer.status


def _print(
    args: argparse.Namespace, answer: Answer, status: int, elapsed: float | None, hint: str | None
) -> int:
    return print_answer(
        answer,
        status,
        as_json=as_json(args),
        output=args.output,
        quiet=args.quiet,
        elapsed=elapsed,
        hint=hint,
    )
