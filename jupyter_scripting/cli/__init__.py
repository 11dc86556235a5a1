"""``jupyter scripting``: the command line of jupyter_scripting.

One argparse parser (:mod:`.parser`) for every command, each in its module:

- ``publish``, ``list`` (:mod:`.scripts`), ``run`` (:mod:`.run`) and ``logs``
  (:mod:`.logs`) talk HTTP to a running server through the typed API client
  (:mod:`.api` on :mod:`.client`), standard library only, so they start fast;
- ``key create|list|revoke`` (:mod:`.keys`) work directly on the server's store
  (:mod:`.store`, which reads the server's configuration), or through a server when one
  is given with ``--url`` or ``JUPYTER_SCRIPTING_URL``.

What they print is in :mod:`.render`; how they fail (one line, an exit status) in
:mod:`.errors`. The ``jupyter`` command runs ``jupyter-scripting`` (installed by the
package) for ``jupyter scripting``; ``python -m jupyter_scripting.cli`` does the same.
"""

from __future__ import annotations

import os
import sys

__all__ = ["EXTENSION_CONFIG_FILE", "main"]

#: ``ScriptingApp.config_file_name``, the extension's own configuration file (named
#: here so that commands refused for their arguments need not import jupyter_server).
EXTENSION_CONFIG_FILE = "jupyter_jupyter_scripting_config"


def run_command(argv: list[str]) -> int:
    """Parse ``argv`` and run its command; the exit status."""
    from .errors import EXIT_USAGE, UsageError
    from .parser import build_parser, command_word, uses_server

    word, index = command_word(argv)
    if word == "worker":
        # Its options are the server's traitlets (--ScriptingApp.name=value), not argparse's.
        from ..worker import main as worker

        worker(argv[index + 1 :])
        return 0
    if word == "key" and index > 0 and not uses_server(argv):
        raise UsageError(
            "Write the options after the key command (e.g. jupyter scripting key list "
            "--json); --url URL makes it go through a server."
        )
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(handler(args, parser))


def main(argv: list[str] | None = None) -> None:
    """Run ``jupyter scripting`` with ``argv`` (default: ``sys.argv[1:]``) and exit."""
    from .errors import EXIT_INTERRUPTED, PROG, CommandError

    try:
        code = run_command(sys.argv[1:] if argv is None else list(argv))
    except CommandError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's own flush at
        # exit from complaining about the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    sys.exit(code)
