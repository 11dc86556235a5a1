"""The client commands of ``jupyter scripting``: publish, list, run, logs, and ``key`` through
a server. They talk HTTP to a running server (``--url``/``--token``, the environment, or
the one running Jupyter server of this user) with the standard library only.

Output conventions: data on stdout (a script's answer byte for byte, tables, ``--json``),
everything about it on stderr (status lines, progress, errors), so pipes get the data.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import os
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__
from .client import (
    TOKEN_ENV,
    URL_ENV,
    Answer,
    Client,
    ServerError,
    charset_of,
    choose_server,
    is_textual,
)
from .output import (
    EXIT_ERROR,
    EXIT_OK,
    PROG,
    CommandError,
    UsageError,
    print_created_key,
    print_json,
    print_key_list,
    print_revoked_key,
    print_table,
)
from .progress import Progress, format_seconds

#: Seconds a request may wait for its answer; a synchronous run waits longer by default.
DEFAULT_TIMEOUT = 30.0
DEFAULT_RUN_TIMEOUT = 900.0
METHODS = ("POST", "GET", "PUT", "DELETE", "PATCH")
#: Options of every command that take a value (to find the command word in argv).
_VALUE_OPTIONS = {"--url", "--token", "--timeout"}

EXIT_CODES = """exit status:
  0    success (the answer's status is below 400)
  1    the server answered an error (4xx/5xx; its message is printed), or the
       script's answer has an error status
  2    usage error: unknown option, missing argument, a file that cannot be read
  3    the server could not be reached (refused, unknown host, TLS, timeout)
  130  interrupted (Ctrl-C)
"""

ENVIRONMENT = f"""environment:
  {URL_ENV}    the server's URL with its base_url (default for --url)
  {TOKEN_ENV}  the server's token or an API key (default for --token;
                           JUPYTER_TOKEN is used when neither is set)
Without --url nor {URL_ENV}, the one running Jupyter server of this user
(as `jupyter server list` shows it) is used, with its token.
"""


class Interrupted(CommandError):
    """Ctrl-C while following a run: the run goes on, only the waiting stops."""

    exit_code = 130


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def _version(text: str) -> str:
    if text == "all" or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"give a version number or 'all', not {text!r}")


# -- the parser ------------------------------------------------------------------------------
def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after the command word."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server and output")
    # SUPPRESS: given before the command word, a value is not reset by the subcommand.
    group.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"the server's URL, base_url included (default: ${URL_ENV}, else the one "
        "running Jupyter server)",
    )
    group.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help=f"the server's token or an API key jsk_… (default: ${TOKEN_ENV})",
    )
    group.add_argument(
        "--timeout",
        type=_positive,
        metavar="SECONDS",
        default=argparse.SUPPRESS,
        help=f"how long to wait for each answer (default {DEFAULT_TIMEOUT:g}; a synchronous "
        f"run: {DEFAULT_RUN_TIMEOUT:g})",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=argparse.SUPPRESS,
        help="do not verify the server's TLS certificate",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of text",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The parser of every client command (``key`` on the store is a traitlets app)."""
    common = _common_options()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Notebooks as HTTP scripts: publish notebooks to a Jupyter server with "
        "jupyter_scripting, run them, read their logs, manage API keys.",
        epilog=EXIT_CODES + "\n" + ENVIRONMENT,
        formatter_class=formatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str, epilog: str = "") -> Any:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=(epilog + "\n\n" if epilog else "") + EXIT_CODES,
            formatter_class=formatter,
            parents=[common],
        )

    publish = command(
        "publish",
        "publish a notebook: a new script, or a new version of one",
        """Publish NOTEBOOK (.ipynb) as a script. It becomes a new version of the script
--id names; else of the script its metadata names (metadata.jupyter_scripting.scriptId,
written by JupyterLab's Publish), if it exists on the server; else of the script of the
same name (--name, default the file's name without .ipynb); else a new script.""",
        "examples:\n  jupyter scripting publish hello.ipynb\n"
        "  jupyter scripting publish report.ipynb --name weekly-report",
    )
    publish.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    publish.add_argument("--name", help="the script's name (default: the file's stem)")
    publish.add_argument(
        "--id", dest="script_id", metavar="SCRIPT_ID", help="publish a new version of this script"
    )
    publish.set_defaults(handler=cmd_publish)

    listing = command(
        "list", "list the scripts", "List every script of the tenant, most recently updated first."
    )
    listing.set_defaults(handler=cmd_list)

    run = command(
        "run",
        "run a script (synchronously, or in the background)",
        """Run the script ID. A synchronous run writes the script's answer to stdout byte
for byte (or to --output) and its status line to stderr. --background queues the run
and prints its execution id; with --wait it follows the run until it is finished (a
progress display on stderr), then prints its answer like a synchronous run.""",
        "examples:\n"
        '  jupyter scripting run ID --data \'{"name": "John Smith"}\'\n'
        "  jupyter scripting run ID -X GET --query n=3 --accept image/png -o chart.png\n"
        "  jupyter scripting run ID --data-file input.csv --content-type text/csv\n"
        "  jupyter scripting run ID --background --wait",
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
    run.add_argument("--output", "-o", metavar="FILE", help="write the answer's body to FILE")
    run.add_argument("--quiet", action="store_true", help="no status line, no progress")
    run.set_defaults(handler=cmd_run)

    logs = command(
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
        "--limit", type=_count, default=20, help="how many executions (default 20, at most 1000)"
    )
    logs.add_argument("--offset", type=_count, default=0, help="skip this many (default 0)")
    logs.add_argument(
        "--version",
        type=_version,
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

    key = command(
        "key",
        "manage API keys (in the store; through a server with --url)",
        f"""Manage API keys. Without --url (and without ${URL_ENV}) these work directly on the
server's store (run `jupyter scripting key --help` for those options); with a server
they go through its /scripting/key routes, in the tenant of the caller (an admin key).""",
    )
    keys = key.add_subparsers(dest="key_command", metavar="KEY_COMMAND")
    create = keys.add_parser(
        "create", help="create a key and print it (shown once)", parents=[common]
    )
    create.add_argument("--user", required=True, help="the user the key identifies")
    create.add_argument("--role", required=True, help="admin, developer or runner")
    create.add_argument("--tenant", help=argparse.SUPPRESS)
    create.set_defaults(handler=cmd_key_create)
    key_list = keys.add_parser("list", help="list the tenant's keys", parents=[common])
    key_list.add_argument("--tenant", help=argparse.SUPPRESS)
    key_list.set_defaults(handler=cmd_key_list)
    revoke = keys.add_parser("revoke", help="revoke a key", parents=[common])
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (see `key list`)")
    revoke.add_argument("--tenant", help=argparse.SUPPRESS)
    revoke.set_defaults(handler=cmd_key_revoke)
    key.set_defaults(handler=lambda args, parser: _usage(key, "give a KEY_COMMAND"))
    return parser


def _usage(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)


def command_word(argv: Sequence[str]) -> tuple[str | None, int]:
    """The command (``publish``, ``key``, …) and its index in ``argv``."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in _VALUE_OPTIONS:
            index += 2
        elif arg.startswith("-"):
            index += 1
        else:
            return arg, index
    return None, -1


def uses_server(argv: Sequence[str]) -> bool:
    """Whether ``key …`` goes through a server: ``--url`` or ``JUPYTER_SCRIPTING_URL``."""
    given = any(arg == "--url" or arg.startswith("--url=") for arg in argv)
    return given or bool(os.environ.get(URL_ENV))


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run the client command; its exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args, parser) or EXIT_OK)


def client_for(args: argparse.Namespace) -> Client:
    """The client of the server the options (or the environment) name."""
    choice = choose_server(getattr(args, "url", None), getattr(args, "token", None))
    return Client(
        choice.url,
        choice.token,
        timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
        insecure=getattr(args, "insecure", False),
    )


def _as_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- publish and list -----------------------------------------------------------------------
def read_notebook(path: str) -> dict[str, Any]:
    """The notebook file as JSON (the server validates it as a notebook)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        notebook = json.loads(raw)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a notebook: it is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not a notebook: invalid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})."
        ) from None
    if not isinstance(notebook, dict):
        raise UsageError(f"{path} is not a notebook: its JSON is not an object.")
    return notebook


def all_scripts(client: Client, page_size: int = 1000) -> list[dict[str, Any]]:
    """Every script of the tenant, following ``moreElements`` page after page."""
    scripts: list[dict[str, Any]] = []
    while True:
        query = [("limit", str(page_size)), ("offset", str(len(scripts)))]
        page = client.call("GET", "scripting", "script", query=query).json()
        scripts += page["scripts"]
        if not page.get("moreElements") or not page["scripts"]:
            return scripts


def _metadata_script_id(notebook: dict[str, Any]) -> str | None:
    metadata = notebook.get("metadata")
    ours = metadata.get("jupyter_scripting") if isinstance(metadata, dict) else None
    script_id = ours.get("scriptId") if isinstance(ours, dict) else None
    return script_id if isinstance(script_id, str) and script_id else None


def publish_notebook(
    client: Client,
    notebook: dict[str, Any],
    name: str,
    *,
    script_id: str | None = None,
    rename: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Publish ``notebook``; (the script's model, whether it was created).

    It goes to ``script_id`` if given; else to the script whose id JupyterLab saved in the
    notebook's metadata, if that still exists; else to the tenant's one script named
    ``name``; else to a new script named ``name``. A new version keeps the script's name
    unless ``rename``.
    """
    target = script_id
    if target is None and (from_metadata := _metadata_script_id(notebook)) is not None:
        answer = client.request("GET", "scripting", "script", from_metadata)
        if answer.status == 200:
            target = from_metadata
        elif answer.status != 404:  # 404: published elsewhere, or deleted since
            raise ServerError(answer, client.hint(answer))
    if target is None:
        same = [s for s in all_scripts(client) if s["name"] == name]
        if len(same) > 1:
            ids = ", ".join(s["scriptId"] for s in same)
            raise CommandError(
                f"{len(same)} scripts are named {name!r} ({ids}): choose one with --id, "
                "or give another --name."
            )
        if same:
            target = same[0]["scriptId"]
    if target is None:
        payload = {"name": name, "notebook": notebook}
        return client.call("POST", "scripting", "script", payload=payload).json(), True
    payload = {"notebook": notebook}
    if rename:
        payload["name"] = name
    hint = "See `jupyter scripting list`."
    answer = client.call("PUT", "scripting", "script", target, payload=payload, hint_404=hint)
    return answer.json(), False


def cmd_publish(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    notebook = read_notebook(args.notebook)
    client = client_for(args)
    model, created = publish_notebook(
        client,
        notebook,
        args.name or Path(args.notebook).stem,
        script_id=args.script_id,
        rename=bool(args.name),
    )
    if _as_json(args):
        print_json(model)
        return EXIT_OK
    script_id = model["scriptId"]
    if created:
        print(f"Created script {model['name']!r}, version {model['version']}.")
    else:
        print(f"Published version {model['version']} of script {model['name']!r}.")
    print(f"ID:  {script_id}")
    print(f"Run: {client.endpoint('scripting', 'script', script_id, 'run')}")
    print(f"     jupyter scripting run {script_id}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    scripts = all_scripts(client_for(args))
    if _as_json(args):
        print_json({"scripts": scripts, "moreElements": False})
        return EXIT_OK
    if not scripts:
        print("No scripts.")
        return EXIT_OK
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
    return EXIT_OK


def _last_run(execution: dict[str, Any] | None) -> str:
    """``200 2026-11-29T10:00:05Z``, the state while unfinished, or ``-`` if it never ran."""
    if not execution:
        return "-"
    outcome = execution.get("statusCode") or execution.get("state") or "?"
    return f"{outcome} {execution.get('executionDate') or ''}".rstrip()


# -- run ------------------------------------------------------------------------------------
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


def _write_body(body: bytes, content_type: str | None, output: str | None) -> str | None:
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


def emit_answer(
    args: argparse.Namespace,
    answer: Answer,
    status: int,
    elapsed: float | None,
    hint: str | None = None,
) -> int:
    """Print a run's answer (``status`` is the script's): body, status line, exit status."""
    failure = ServerError(Answer(status, answer.headers, answer.body, answer.url), hint)
    if status >= 400 and answer.error_document() is not None:
        if _as_json(args):
            print_json(answer_model(answer, status))
        raise failure
    if _as_json(args):
        print_json(answer_model(answer, status))
        if args.output:
            _write_body(answer.body, answer.content_type, args.output)
    else:
        note = _write_body(answer.body, answer.content_type, args.output)
        if not args.quiet:
            parts = [f"{status} {failure.answer.phrase}"]
            parts.append(answer.content_type or "no content")
            parts.append(f"{len(answer.body)} bytes" + (f", {note}" if note else ""))
            if execution := answer.header("X-Execution-Id"):
                parts.append(f"execution {execution}")
            if elapsed is not None:
                parts.append(format_seconds(elapsed))
            _err(" · ".join(parts))
    return EXIT_ERROR if status >= 400 else EXIT_OK


def cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.wait and not args.background:
        _usage(parser, "--wait follows a background run: add --background")
    body, content_type = _request_body(args)
    headers = _request_headers(args, content_type)
    query = _query(args)
    method = args.method or ("POST" if body is not None else "GET")
    client = client_for(args)
    route = "background" if args.background else "run"
    timeout = getattr(args, "timeout", None)
    if timeout is None and not args.background:
        timeout = DEFAULT_RUN_TIMEOUT
    started = time.monotonic()
    answer = client.request(
        method, "scripting", "script", args.script_id, route,
        query=query, body=body, headers=headers, timeout=timeout,
    )  # fmt: skip
    execution = answer.header("X-Execution-Id")
    hint: str | None = None
    if answer.status in (401, 403, 404) or not execution:
        hint = client.hint(answer, "See `jupyter scripting list`.")
    elif answer.error_document() is not None:
        hint = f"Its log: jupyter scripting logs {args.script_id} {execution}"
    if answer.status >= 400 and not execution:
        # Every answer of a run carries X-Execution-Id: this one is not the script's.
        raise ServerError(answer, hint)
    if not args.background:
        return emit_answer(args, answer, answer.status, time.monotonic() - started, hint)
    if answer.status >= 400:
        raise ServerError(answer, hint)
    execution_id = str(answer.json()["executionId"])
    location = urllib.parse.urljoin(client.url + "/", answer.header("Location") or "")
    if not args.wait:
        if _as_json(args):
            print_json({"executionId": execution_id, "location": location})
        else:
            print(execution_id)
            if not args.quiet:
                _err(f"Queued execution {execution_id} of script {args.script_id}.")
                _err(f"Its log: {location}")
                _err(f"Follow it: jupyter scripting logs {args.script_id} {execution_id}")
        return EXIT_OK
    return follow(args, client, execution_id)


def follow(args: argparse.Namespace, client: Client, execution_id: str) -> int:
    """Follow a background run's log until it is finished, then print its answer."""
    progress = Progress(execution_id, sys.stderr)
    quiet = args.quiet
    path = ("scripting", "log", "script", args.script_id, "execution", execution_id)
    state, interval, next_poll = "queued", 0.2, 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= next_poll:
                answer = client.request("GET", *path)
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
    if answer.status >= 400:
        progress.clear()
        raise ServerError(answer, client.hint(answer))
    status = _run_status(answer)
    failed = status >= 400 and answer.error_document() is not None
    if not quiet:
        phrase = Answer(status, [], b"", "").phrase
        progress.finish(f"{'failed' if failed else 'finished'}, {status} {phrase},")
    hint = f"Its traceback: jupyter scripting logs {args.script_id} {execution_id}"
    return emit_answer(args, answer, status, None, hint if failed else None)


def _run_status(answer: Answer) -> int:
    """The status the run answered (the log read itself answers 200)."""
    raw = answer.header("X-Execution-Status") or ""
    return int(raw) if raw.isdigit() else answer.status


# -- logs -----------------------------------------------------------------------------------
def cmd_logs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.execution is None and args.notebook is not None:
        _usage(parser, "--notebook needs an EXECUTION (an id, or 'latest')")
    if args.limit < 1 or args.limit > 1000:
        _usage(parser, "--limit must be between 1 and 1000")
    client = client_for(args)
    hint_404 = "See `jupyter scripting list`."
    if args.execution is None:
        return _list_executions(args, client, hint_404)
    execution = args.execution
    if execution == "latest":
        query = [("limit", "1")] + ([("version", args.version)] if args.version else [])
        entries = client.call(
            "GET", "scripting", "log", "script", args.script_id, query=query, hint_404=hint_404
        ).json()["filteredLogs"]
        if not entries:
            raise CommandError(f"Script {args.script_id} has no executions yet.")
        execution = str(entries[0]["executionId"])
    path = ["scripting", "log", "script", args.script_id, "execution", execution]
    hint_404 = f"See `jupyter scripting logs {args.script_id}`."
    if args.notebook is not None:
        path.append("notebook")
    answer = client.call("GET", *path, hint_404=hint_404)
    if answer.status == 202:
        state = answer.json().get("state")
        if _as_json(args):
            print_json({"executionId": execution, "state": state})
        else:
            _err(
                f"Execution {execution} is {state}: it has no "
                f"{'notebook' if args.notebook is not None else 'content'} yet."
            )
        return EXIT_OK
    if args.notebook is not None:
        target = args.output if args.notebook == "-" and args.output else args.notebook
        if _as_json(args) and target == "-":
            print_json(answer.json())
            return EXIT_OK
        _write_body(answer.body, answer.content_type, target)
        if target != "-":
            print(f"Wrote the executed notebook of execution {execution} to {target}.")
        return EXIT_OK
    status = _run_status(answer)
    if _as_json(args):
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
        note = _write_body(answer.body, answer.content_type, args.output)
    phrase = Answer(status, [], b"", "").phrase
    extra = f", {note}" if note else ""
    _err(
        f"Execution {execution}: {status} {phrase} · {answer.content_type or 'no content'} · "
        f"{len(answer.body)} bytes{extra}"
    )
    return EXIT_OK


def _list_executions(args: argparse.Namespace, client: Client, hint_404: str) -> int:
    query = [("limit", str(args.limit)), ("offset", str(args.offset))]
    if args.version:
        query.append(("version", args.version))
    data = client.call(
        "GET", "scripting", "log", "script", args.script_id, query=query, hint_404=hint_404
    ).json()
    if _as_json(args):
        print_json(data)
        return EXIT_OK
    entries = data["filteredLogs"]
    if not entries:
        print("No executions." if args.offset == 0 else f"No executions after {args.offset}.")
        return EXIT_OK
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
    if data.get("moreElements"):
        _err(f"More executions follow: --offset {args.offset + len(entries)}")
    return EXIT_OK


# -- key, through a server -------------------------------------------------------------------
def _no_tenant(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.tenant is not None:
        _usage(
            parser,
            "--tenant is for the store (without --url): through a server, keys are those "
            "of the tenant of the caller's key",
        )


def cmd_key_create(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _no_tenant(args, parser)
    payload = {"user": args.user, "role": args.role}
    model = client_for(args).call("POST", "scripting", "key", payload=payload).json()
    if _as_json(args):
        print_json(model)
    else:
        print_created_key(model, model["key"])
    return EXIT_OK


def cmd_key_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _no_tenant(args, parser)
    data = client_for(args).call("GET", "scripting", "key").json()
    if _as_json(args):
        print_json(data)
    else:
        print_key_list(data["keys"])
    return EXIT_OK


def cmd_key_revoke(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _no_tenant(args, parser)
    client = client_for(args)
    hint = "See `jupyter scripting key list`."
    client.call("DELETE", "scripting", "key", args.key_id, hint_404=hint)
    keys = client.call("GET", "scripting", "key").json()["keys"]
    model = next((k for k in keys if k["keyId"] == args.key_id), None)
    if model is None:  # revoked, then gone from the list: say what is known
        model = {"keyId": args.key_id, "user": "?", "tenant": "?", "revokedAt": "now"}
    if _as_json(args):
        print_json(model)
    else:
        print_revoked_key(model)
    return EXIT_OK
