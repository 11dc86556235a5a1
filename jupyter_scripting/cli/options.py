"""What the command modules share about options: their types, how a command's parser is
added (:class:`Commands`), and what the options of every command mean (the server's API
client, ``--json``). Only the standard library."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .api import ScriptingAPI
from .client import Client
from .errors import EXIT_CODES
from .servers import choose_server

#: Seconds a request may wait for its answer; a synchronous run waits longer by default.
DEFAULT_TIMEOUT = 30.0
DEFAULT_RUN_TIMEOUT = 900.0
#: What ``--log-level`` accepts (as Jupyter's applications do), besides these numbers.
LOG_LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


# -- option types ---------------------------------------------------------------------------
def positive(text: str) -> float:
    """A number more than 0 (of seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def version(text: str) -> str:
    """A script's version number, or ``all``."""
    if text == "all" or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"give a version number or 'all', not {text!r}")


def log_level(text: str) -> int:
    """A logging level, by name or number."""
    if text.upper() in LOG_LEVELS:
        return LOG_LEVELS[text.upper()]
    if text.isdigit() and int(text) in {0, *LOG_LEVELS.values()}:
        return int(text)
    raise argparse.ArgumentTypeError(f"give one of {', '.join(LOG_LEVELS)}, not {text!r}")


# -- parsers --------------------------------------------------------------------------------
class Commands:
    """Adds commands to a parser, each with the options of every command (``common``) and
    the exit statuses in its help."""

    def __init__(
        self,
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
        common: argparse.ArgumentParser,
    ) -> None:
        self.subparsers = subparsers
        self.common = common

    def add(
        self, name: str, summary: str, description: str, epilog: str = ""
    ) -> argparse.ArgumentParser:
        """The parser of the command ``name`` (``summary`` is its line in its parent's help)."""
        return self.subparsers.add_parser(
            name,
            help=summary,
            description=description,
            epilog=(epilog + "\n\n" if epilog else "") + EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[self.common],
        )

    def under(self, parser: argparse.ArgumentParser, dest: str, metavar: str) -> Commands:
        """The subcommands of the command ``parser`` (``dest`` names the one given)."""
        return Commands(parser.add_subparsers(dest=dest, metavar=metavar), self.common)


# -- what the options mean ---------------------------------------------------------------------
def api_for(args: argparse.Namespace) -> ScriptingAPI:
    """The API of the server the options (or the environment) name."""
    choice = choose_server(getattr(args, "url", None), getattr(args, "token", None))
    client = Client(
        choice.url,
        choice.token,
        timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
        insecure=getattr(args, "insecure", False),
    )
    return ScriptingAPI(client)


def as_json(args: argparse.Namespace) -> bool:
    """Whether ``--json`` was given (before or after the command word)."""
    return bool(getattr(args, "json", False))


def usage(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Refuse the command line: ``parser``'s usage and ``message``, exit status 2."""
    parser.error(message)
