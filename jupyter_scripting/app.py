"""ScriptingApp: the extension's settings, wiring and lifecycle — nothing else."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Integer, Unicode, default, validate

from ._version import __version__
from .execution.kernels import KernelProvider
from .execution.runner import Runner
from .handlers.base import NotFoundHandler
from .handlers.logs import ExecutionHandler, ExecutionNotebookHandler, LogHandler
from .handlers.runs import RunHandler
from .handlers.scripts import NotebookHandler, ScriptHandler, ScriptsHandler
from .service import ScriptingService
from .store.service import Store

_ID = r"([^/]+)"


class ScriptingApp(ExtensionApp):
    """Notebooks published as HTTP scripts, each run in a fresh kernel, with logs."""

    name = "jupyter_scripting"
    version = __version__
    description = __doc__
    load_other_extensions = True

    max_sync_runs_per_tenant = Integer(
        10,
        config=True,
        help="Synchronous runs one tenant may have executing at once; the next gets 429.",
    )
    sync_timeout = Float(
        60.0,
        config=True,
        help="""Seconds a synchronous run may take in all (kernel start included). Past it
        the kernel and its children are killed and the caller gets 504.""",
    )
    database_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the store. Default: an SQLite file in the Jupyter data
        directory. ``postgresql+psycopg://user@host/db`` selects a shared PostgreSQL store.""",
    )
    log_retention_days = Float(
        30.0,
        allow_none=True,
        config=True,
        help="Finished executions older than this many days are deleted (None keeps them).",
    )
    log_retention_count = Integer(
        1000,
        allow_none=True,
        config=True,
        help="At most this many finished executions are kept per script (None: no limit).",
    )
    log_retention_interval = Float(
        3600.0, config=True, help="Seconds between two passes of the log retention."
    )

    @default("database_url")
    def _default_database_url(self) -> str:
        path = os.path.join(jupyter_data_dir(), "scripting", "jupyter_scripting.sqlite")
        return f"sqlite:///{path}"

    @validate("max_sync_runs_per_tenant", "sync_timeout", "log_retention_interval")
    def _positive(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    def initialize_settings(self) -> None:
        identity = self.serverapp.identity_provider if self.serverapp else None
        secrets = [str(getattr(identity, "token", "") or "")]
        secrets += [os.environ.get(v, "") for v in ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN")]
        secrets = [s for s in secrets if s]
        kernel_spec_manager = getattr(self.serverapp, "kernel_spec_manager", None)
        kernels = KernelProvider(parent=self, secrets=secrets)
        if kernel_spec_manager is not None:
            kernels.kernel_spec_manager = kernel_spec_manager
        self.kernels = kernels
        self.store = Store(self.database_url)
        self.service = ScriptingService(
            self.store,
            Runner(parent=self, kernels=kernels),
            max_sync_runs_per_tenant=self.max_sync_runs_per_tenant,
            sync_timeout=self.sync_timeout,
            log=self.log,
        )
        self.settings.update(scripting_service=self.service, scripting_secrets=secrets)
        self.log.info("jupyter_scripting %s: store %s", __version__, self._safe_url())

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    def initialize_handlers(self) -> None:
        script = rf"/scripting/script/{_ID}"
        execution = rf"/scripting/log/script/{_ID}/execution/{_ID}"
        self.handlers.extend(
            [
                (r"/scripting/script/?", ScriptsHandler),
                (rf"{script}/?", ScriptHandler),
                (rf"{script}/notebook/?", NotebookHandler),
                (rf"{script}/run/?", RunHandler),
                (rf"/scripting/log/script/{_ID}/?", LogHandler),
                (rf"{execution}/?", ExecutionHandler),
                (rf"{execution}/notebook/?", ExecutionNotebookHandler),
                (r"/scripting(?:/.*)?", NotFoundHandler),
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        try:
            await self.service.ensure_ready()
        except Exception:
            self.log.exception("The script store could not be opened; requests will retry.")
        self._retention = PeriodicCallback(self._prune, self.log_retention_interval * 1000)
        self._retention.start()

    async def _prune(self) -> None:
        older_than = None
        if self.log_retention_days is not None:
            older_than = dt.datetime.now(dt.timezone.utc) - dt.timedelta(
                days=self.log_retention_days
            )
        try:
            deleted = await self.store.prune_executions(
                older_than=older_than, keep_per_script=self.log_retention_count
            )
        except Exception:
            self.log.exception("Log retention failed")
        else:
            if deleted:
                self.log.info("Log retention deleted %d executions", deleted)

    def current_activity(self) -> dict[str, Any] | None:
        running = self.service.sync_runs_in_flight
        return {"sync_runs": running} if running else None

    async def stop_extension(self) -> None:
        retention = getattr(self, "_retention", None)
        if retention is not None:
            retention.stop()
        await self.service.stop()
