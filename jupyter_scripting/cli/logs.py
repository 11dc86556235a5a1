"""``jupyter scripting logs``: a script's executions, or what one of them answered."""

from __future__ import annotations

import argparse
import sys

from ..rules import MAX_PAGE
from .api import ScriptingAPI
from .errors import EXIT_OK, CommandError
from .options import Commands, api_for, as_json, count, usage, version
from .render import answer_model, err, phrase, print_executions, print_json, write_body
from .run import run_status


def add_parser(commands: Commands) -> None:
    """``logs``."""
    logs = commands.add(
        "logs",
        "a script's executions, or what one of them answered",
        """Without EXECUTION: the executions of the script, newest first (of its latest
version unless --version). With EXECUTION (an id, or 'latest'): what that run answered
(for a failed run its error and traceback), or with --notebook its executed notebook.""",
        "examples:\n  jupyter scripting logs ID\n  jupyter scripting logs ID --version all "
        "--limit 50\n  jupyter scripting logs ID latest\n"
        "  jupyter scripting logs ID EXECUTION --notebook run.ipynb",
    )
    logs.add_argument("script_id", metavar="ID", help="the script's id")
    logs.add_argument(
        "execution", metavar="EXECUTION", nargs="?", help="an execution id, or 'latest'"
    )
    logs.add_argument(
        "--limit",
        type=count,
        default=20,
        help=f"how many executions (default 20, at most {MAX_PAGE})",
    )
    logs.add_argument("--offset", type=count, default=0, help="skip this many (default 0)")
    logs.add_argument(
        "--version",
        type=version,
        metavar="N|all",
        help="the executions of version N, or of all versions (default: the latest version)",
    )
    logs.add_argument(
        "--notebook",
        nargs="?",
        const="-",
        metavar="FILE",
        help="the executed notebook instead (to FILE, or stdout)",
    )
    logs.add_argument("--output", "-o", metavar="FILE", help="write the content to FILE")
    logs.set_defaults(handler=cmd_logs)


def cmd_logs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.execution is None and args.notebook is not None:
        usage(parser, "--notebook needs an EXECUTION (an id, or 'latest')")
    if not 1 <= args.limit <= MAX_PAGE:
        usage(parser, f"--limit must be between 1 and {MAX_PAGE}")
    api = api_for(args)
    if args.execution is None:
        return _list_executions(args, api)
    execution = args.execution
    if execution == "latest":
        latest = api.latest_execution(args.script_id, version=args.version)
        if latest is None:
            raise CommandError(f"Script {args.script_id} has no executions yet.")
        execution = str(latest["executionId"])
    notebook = args.notebook is not None
    answer = api.execution(
        args.script_id,
        execution,
        notebook=notebook,
        hint_404=f"See `jupyter scripting logs {args.script_id}`.",
    )
    if answer.status == 202:
        state = answer.json().get("state")
        if as_json(args):
            print_json({"executionId": execution, "state": state})
        else:
            err(
                f"Execution {execution} is {state}: it has no "
                f"{'notebook' if notebook else 'content'} yet."
            )
        return EXIT_OK
    if notebook:
        target = args.output if args.notebook == "-" and args.output else args.notebook
        if as_json(args) and target == "-":
            print_json(answer.json())
            return EXIT_OK
        write_body(answer.body, answer.content_type, target)
        if target != "-":
            print(f"Wrote the executed notebook of execution {execution} to {target}.")
        return EXIT_OK
    status = run_status(answer)
    if as_json(args):
        print_json(answer_model(answer, status))
        return EXIT_OK
    document = answer.error_document() if status >= 400 else None
    if document is not None and not args.output:
        # A failed run: its error, then the traceback, for a person to read.
        print(f"{status} {document.get('reason')}: {document.get('message')}")
        if document.get("traceback"):
            print(str(document["traceback"]).rstrip("\n"))
        sys.stdout.flush()
        note = None
    else:
        note = write_body(answer.body, answer.content_type, args.output)
    extra = f", {note}" if note else ""
    err(
        f"Execution {execution}: {status} {phrase(status)} · "
        f"{answer.content_type or 'no content'} · {len(answer.body)} bytes{extra}"
    )
    return EXIT_OK


def _list_executions(args: argparse.Namespace, api: ScriptingAPI) -> int:
    data = api.executions(
        args.script_id, limit=args.limit, offset=args.offset, version=args.version
    )
    if as_json(args):
        print_json(data)
        return EXIT_OK
    entries = data["filteredLogs"]
    if not entries:
        print("No executions." if args.offset == 0 else f"No executions after {args.offset}.")
        return EXIT_OK
    print_executions(entries)
    if data.get("moreElements"):
        err(f"More executions follow: --offset {args.offset + len(entries)}")
    return EXIT_OK
