"""What the commands print: errors with their exit status, tables, key summaries.

Shared by the store commands (``key`` without a server) and the client commands, so that
``key create|list|revoke`` print the same whether they work on the store or on a server.
Only the standard library: the client commands must start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

PROG = "jupyter scripting"

#: Exit statuses (documented in ``jupyter scripting --help``).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CommandError(Exception):
    """A failure reported as one line on stderr and an exit status, never a traceback."""

    exit_code = EXIT_ERROR


class UsageError(CommandError):
    """The command line is wrong: a bad option, a missing argument, an unreadable file."""

    exit_code = EXIT_USAGE


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
