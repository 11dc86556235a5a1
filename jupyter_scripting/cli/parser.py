"""The command line of ``jupyter scripting``: one argparse parser for every command.

The top level and the options every command takes are here; each command module adds
its own parser (``add_parser``), naming its handler (``handler(args, parser)``, which
answers the exit status). Only the standard library at import time.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .._version import __version__
from ..rules import API_KEY_PREFIX
from . import keys, logs, retries, run, schedules, scripts, secrets, webhooks
from .errors import EXIT_CODES, PROG
from .options import DEFAULT_RUN_TIMEOUT, DEFAULT_TIMEOUT, Commands, positive
from .servers import TOKEN_ENV, URL_ENV

#: Options of every command that take a value (to find the command word in argv).
_VALUE_OPTIONS = {"--url", "--token", "--timeout"}

ENVIRONMENT = f"""environment:
  {URL_ENV}    the server's URL with its base_url (default for --url)
  {TOKEN_ENV}  the server's token or an API key (default for --token;
                           JUPYTER_TOKEN is used when neither is set)
Without --url nor {URL_ENV}, the one running Jupyter server of this user
(as `jupyter server list` shows it) is used, with its token.
"""


def common_options() -> argparse.ArgumentParser:
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
        help=f"the server's token or an API key {API_KEY_PREFIX}… (default: ${TOKEN_ENV})",
    )
    group.add_argument(
        "--timeout",
        type=positive,
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
    """The parser of every command."""
    common = common_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Notebooks as HTTP scripts: publish notebooks to a Jupyter server with "
        "jupyter_scripting, run them, read their logs, schedule them, manage API keys.",
        epilog=EXIT_CODES + "\n" + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = Commands(parser.add_subparsers(dest="command", metavar="COMMAND"), common)
    scripts.add_parsers(commands)
    run.add_parser(commands)
    logs.add_parser(commands)
    schedules.add_parser(commands)
    webhooks.add_parser(commands)
    secrets.add_parser(commands)
    retries.add_parser(commands)
    keys.add_parser(commands)
    # Listed here; run_command hands its arguments (traitlets', not argparse's) to it.
    commands.subparsers.add_parser(
        "worker",
        help="execute the background runs of a shared PostgreSQL store, serving no HTTP "
        "(jupyter scripting worker --help)",
        add_help=False,
    )
    return parser


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
