"""How a command fails: one line on stderr and an exit status, never a traceback.

Only the standard library: the client commands must start fast.
"""

from __future__ import annotations

PROG = "jupyter scripting"

#: Exit statuses (documented in ``jupyter scripting --help``).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure reported as one line on stderr and an exit status, never a traceback."""

    exit_code = EXIT_ERROR


class UsageError(CommandError):
    """The command line is wrong: a bad option, a missing argument, an unreadable file."""

    exit_code = EXIT_USAGE


class ServerUnreachable(CommandError):
    """The server could not be reached: refused, unknown host, timeout, TLS failure."""

    exit_code = EXIT_UNREACHABLE


class Interrupted(CommandError):
    """Ctrl-C while following a run: the run goes on, only the waiting stops."""

    exit_code = EXIT_INTERRUPTED


#: The exit statuses, as every command's ``--help`` shows them.
EXIT_CODES = """exit status:
  0    success (the answer's status is below 400)
  1    the server answered an error (4xx/5xx; its message is printed), or the
       script's answer has an error status
  2    usage error: unknown option, missing argument, a file that cannot be read
  3    the server could not be reached (refused, unknown host, TLS, timeout)
  130  interrupted (Ctrl-C)
"""
