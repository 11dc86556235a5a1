"""``jupyter scripting worker``: a node that executes background runs and serves no HTTP.

A worker shares the servers' PostgreSQL store and configuration (the same files, read
with the same precedence as ``jupyter scripting key``; ``--ScriptingApp.name=value``
over them), registers in the node registry, takes background runs from the queue with
the same seats, sandbox, kernel pool and limits as a server, and stops on SIGTERM or
SIGINT as a server does: the runs it has get ``shutdown_grace`` seconds, queued ones
stay queued for the other nodes.
"""

from __future__ import annotations

import asyncio
import copy
import signal
import sys
from typing import Any

from traitlets import Unicode
from traitlets.config import Application

from ._version import __version__
from .app import ScriptingApp
from .cli.errors import CommandError
from .cli.store import read_server_config
from .errors import StoreMisconfigured
from .execution.sandbox_policy import SandboxUnavailable

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ScriptingWorker(Application):
    """Executes the background runs of a shared store; no HTTP."""

    name = "jupyter-scripting-worker"
    version = __version__
    description = """Execute background runs of a jupyter_scripting store shared by several
    nodes (PostgreSQL), without serving HTTP. Settings are the servers' (their
    configuration files; --ScriptingApp.name=value over them), e.g.
    jupyter scripting worker --ScriptingApp.database_url=postgresql+psycopg://host/db"""
    classes = [ScriptingApp]
    aliases = {"config": "ScriptingWorker.config_file", "log-level": "Application.log_level"}

    config_file = Unicode(
        "", config=True, help="A configuration file to read instead of jupyter_server_config."
    )

    def initialize(self, argv: Any = None) -> None:
        self.parse_command_line(argv)
        command_line = copy.deepcopy(self.cli_config)
        try:
            files = read_server_config(self.config_file or None)
        except CommandError as e:
            raise SystemExit(f"jupyter scripting worker: {e}") from None
        self.update_config(files.config)
        self.update_config(command_line)  # the command line wins over the files
        self.scripting = ScriptingApp(parent=self)
        self.scripting.log = self.log
        if not self.scripting.database_url.startswith("postgresql"):
            raise SystemExit(
                "jupyter scripting worker: a worker shares a PostgreSQL store with the "
                "servers (set ScriptingApp.database_url = postgresql+psycopg://…); the "
                "SQLite store serves one node, the server itself."
            )

    def start(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            service = self.scripting.build_service("worker")
        except (StoreMisconfigured, SandboxUnavailable) as e:
            self.log.critical("The worker cannot start: %s", e)
            raise SystemExit(1) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        self.scripting.kernels.start_pools()
        try:
            await service.start()
        except Exception as e:
            self.log.error(
                "%s The worker keeps trying every %g s.", e, self.scripting.queue_poll_interval
            )
        self.log.info("Worker %s takes background runs", self.scripting.node_name)
        await stop.wait()
        self.log.info("Stopping: the runs of this worker get %g s", self.scripting.shutdown_grace)
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await service.stop()
        self.log.info("Worker %s stopped", self.scripting.node_name)


def main(argv: list[str] | None = None) -> None:
    """Run a worker with ``argv`` (default: ``sys.argv[1:]``) until SIGTERM or SIGINT."""
    worker = ScriptingWorker()
    worker.initialize(sys.argv[1:] if argv is None else argv)
    worker.start()


if __name__ == "__main__":
    main()
