"""``jupyter scripting``: the command line of jupyter_scripting.

- ``publish``, ``list``, ``run``, ``logs`` talk HTTP to a running server
  (:mod:`jupyter_scripting.cli.commands`, standard library only, so they start fast);
- ``key create|list|revoke`` work directly on the server's store
  (:mod:`jupyter_scripting.cli.store`), or through a server when one is given with
  ``--url`` or ``JUPYTER_SCRIPTING_URL``.

The ``jupyter`` command runs ``jupyter-scripting`` (installed by the package) for
``jupyter scripting``; ``python -m jupyter_scripting.cli`` does the same.
"""

from __future__ import annotations

import os
import sys

__all__ = ["EXTENSION_CONFIG_FILE", "main"]

#: ``ScriptingApp.config_file_name``, the extension's own configuration file (named
#: here so that commands refused for their arguments need not import jupyter_server).
EXTENSION_CONFIG_FILE = "jupyter_jupyter_scripting_config"


def _dispatch(argv: list[str]) -> int:
    from .commands import command_word, run_command, uses_server
    from .output import UsageError

    word, index = command_word(argv)
    if word == "key" and not uses_server(argv):
        if index > 0:
            raise UsageError(
                "Write the options after the key command (e.g. jupyter scripting key list "
                "--json); --url URL makes it go through a server."
            )
        from .store import run_store_key_command

        run_store_key_command(argv[index + 1 :])
        return 0
    return run_command(argv)


def main(argv: list[str] | None = None) -> None:
    """Run ``jupyter scripting`` with ``argv`` (default: ``sys.argv[1:]``) and exit."""
    from .output import PROG, CommandError

    try:
        code = _dispatch(sys.argv[1:] if argv is None else list(argv))
    except CommandError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's own flush at
        # exit from complaining about the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    sys.exit(code)
