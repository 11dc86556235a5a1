"""ScriptingApp: the extension's settings, wiring and lifecycle — nothing else."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
from typing import Any, TypeVar

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Dict, Enum, Float, Integer, List, Unicode, default, validate

from ._version import __version__
from .auth import ScriptingAuthorizer, ScriptingIdentityProvider
from .credentials import DEFAULT_ENV_DENYLIST
from .crypto import Keyring, load_key
from .errors import StoreMisconfigured
from .execution.pool import KernelPool
from .execution.runner import Runner
from .execution.sandbox_policy import Limits as SandboxLimits
from .execution.sandbox_policy import Sandbox, SandboxUnavailable, jupyter_paths_to_hide
from .handlers.base import NotFoundHandler
from .handlers.keys import KeyHandler, KeysHandler
from .handlers.logs import (
    ExecutionEventsHandler,
    ExecutionHandler,
    ExecutionNotebookHandler,
    LogHandler,
)
from .handlers.openapi import OpenApiHandler, ScriptOpenApiHandler
from .handlers.runs import BackgroundHandler, RunHandler
from .handlers.schedules import ScheduleHandler, SchedulesHandler
from .handlers.scripts import NotebookHandler, SchemaHandler, ScriptHandler, ScriptsHandler
from .handlers.variables import VariableHandler, VariablesHandler
from .handlers.webhooks import DeliveriesHandler, SigningSecretHandler
from .http_limits import widen_header_limit
from .metrics import SANDBOX_ACTIVE
from .paths import default_database_url, default_secret_key_file
from .service import Limits, ScriptingService
from .store.service import Store
from .webhook_sender import WebhookSettings
from .webhooks import AllowList, DeliveryRules, log_url_of

_ID = r"([^/]+)"
_Settings = TypeVar("_Settings")


def quiet_child(log: logging.Logger, name: str) -> logging.Logger:
    """A child of ``log`` at the level its handlers let through.

    traitlets keeps an application's logger at DEBUG and filters in its handler, so every
    ``log.debug`` call of jupyter_client and nbclient on a run's path (some 25 a run) would
    build a record for nothing; under this logger it is one level check, and with the
    server's log level at DEBUG everything is logged as before."""
    child = log.getChild(name)
    levels: list[int] = []
    current: logging.Logger | None = log
    while current is not None:
        levels += [handler.level for handler in current.handlers]
        current = current.parent if current.propagate else None
    child.setLevel(min(levels) if levels else logging.WARNING)
    return child


class ScriptingApp(ExtensionApp):
    """Notebooks published as HTTP scripts, each run in a fresh kernel, with logs."""

    name = "jupyter_scripting"
    version = __version__
    description = __doc__
    load_other_extensions = True

    max_sync_runs_per_tenant = Integer(
        10,
        config=True,
        help="""Synchronous runs one tenant may have executing at once, across every node
        sharing the store (its seats); the next gets 429.""",
    )
    sync_timeout = Float(
        60.0,
        config=True,
        help="""Seconds a synchronous run may take in all (kernel start included). Past it
        the kernel and its children are killed and the caller gets 504.""",
    )
    max_header_size = Integer(
        256 * 1024,
        config=True,
        help="""Bytes a request's head may total on the /scripting routes (request line and
        header lines, CRLFs included); a larger one is answered 431. Tornado's own limit
        (64 KiB, not exposed by jupyter_server) is raised to max(2 x this, this + 64 KiB)
        when the server starts; a request above that is still closed by Tornado with no
        answer. A server whose HTTP server jupyter_server did not create keeps its limit.""",
    )
    max_body_size = Integer(
        10 * 1024 * 1024,
        config=True,
        help="""Bytes a request body may have on the /scripting routes (a published notebook,
        a run's request); a larger one is answered 413. ServerApp.max_body_size (512 MiB)
        still bounds what Tornado reads first: above it Tornado answers a bare 400.""",
    )
    max_output_size = Integer(
        10 * 1024 * 1024,
        config=True,
        help="""Bytes of output a run may produce: what it prints and displays in total, and
        apart from that what it writes through response.write(). Past it the run is
        stopped, its kernel killed and the caller gets 502 (reason "output-too-large");
        the executed notebook keeps the outputs up to the limit.""",
    )

    @validate("max_header_size", "max_body_size", "max_output_size")
    def _positive_size(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be a positive number of bytes")
        return proposal["value"]

    max_background_runs = Integer(
        100,
        config=True,
        help="""Background runs executing at once across the whole service (every server
        sharing the database); more wait in the queue, shared fairly between tenants.""",
    )
    background_timeout = Float(
        840.0,
        config=True,
        help="""Seconds a background run may take in all; past it the kernel and its
        children are killed and the log records 504.""",
    )
    shutdown_grace = Float(
        30.0,
        config=True,
        help="""On shutdown (SIGTERM), seconds running runs get to finish before their
        kernels are stopped and their logs say "interrupted". Queued background runs stay
        queued for the next start.""",
    )
    queue_poll_interval = Float(
        2.0,
        config=True,
        help="""Seconds between two looks at the background queue: the fallback for runs
        whose notification did not arrive (runs are started at once when one is queued or a
        seat is given back, on PostgreSQL through LISTEN/NOTIFY on every node).""",
    )
    schedule_interval = Float(
        5.0,
        config=True,
        help="""The longest a node sleeps between two looks for due schedules (README,
        "Schedules"): it wakes at the soonest tick, and sees a schedule another node wrote
        within this many seconds. Every node looks; each tick fires once.""",
    )
    node_name = Unicode(
        config=True,
        help="""This node's name in the store's node registry, unique among the servers and
        workers sharing a database. Its runs are recorded under it; when it starts again
        under the same name, the runs a crash left "running" are recorded as interrupted
        at once (else the reaper does it after node_timeout). Default: host name and port
        (a worker: host name and process id).""",
    )
    heartbeat_interval = Float(
        5.0,
        config=True,
        help="""Seconds between two heartbeats of this node in the store (each also a pass
        of the reaper, which closes the runs of nodes that stopped answering).""",
    )
    node_timeout = Float(
        20.0,
        config=True,
        help="""Seconds without a heartbeat after which a node is taken for dead: its running
        runs are recorded as failed (500, reason "node-lost") and their seats given back.
        They are not run again (notebooks need not be idempotent). Keep it several
        heartbeat_intervals long.""",
    )
    max_node_background_runs = Integer(
        None,
        allow_none=True,
        config=True,
        help="""Background runs this node executes at once, within max_background_runs
        (None: as many as the cluster's seats allow; 0: none, an API-only node that leaves
        its background runs to other nodes and workers).""",
    )

    webhook_allowed_hosts = List(
        Unicode(),
        config=True,
        help="""Hosts webhooks may go to although they are not public addresses (host
        names, exact; IP addresses; networks in CIDR, e.g. 10.0.0.0/8), and the only hosts
        a per-call X-Scripting-Callback may name. Any other loopback, link-local, private
        or reserved target is refused (403), when it is set and when it is sent.""",
    )
    webhook_retry_hours = Float(
        24.0,
        config=True,
        help="""Hours a webhook delivery is tried again (with exponential back-off) before
        it is given up ("failed" in its deliveries).""",
    )
    webhook_backoff = Float(
        10.0,
        config=True,
        help="""Seconds before a failed delivery's second attempt; each further wait is
        twice the one before, an hour at most.""",
    )
    webhook_timeout = Float(
        10.0,
        config=True,
        help="""Seconds a receiver has to answer one delivery attempt (connecting
        included); past it the attempt failed.""",
    )
    webhook_interval = Float(
        5.0,
        config=True,
        help="""The longest a node waits between two looks for due webhook deliveries (it
        looks at once when one of its runs ends, and at the soonest due time): the
        longest before it sends what another node left.""",
    )
    webhook_max_concurrent = Integer(
        10,
        config=True,
        help="Webhook delivery attempts this node makes at once.",
    )
    public_url = Unicode(
        config=True,
        help="""The service's URL as callers reach it (e.g. https://scripts.example.com/),
        for the logUrl of webhook deliveries. Default: the server's own URL.""",
    )
    secret_key = Unicode(
        config=True,
        help="""The key that encrypts secrets in the store (the tenants' webhook signing
        secrets): a Fernet key (32 bytes, URL-safe base64). Every node sharing a store
        needs the same key. Default: the key in secret_key_file.""",
    )
    secret_key_file = Unicode(
        config=True,
        help="""A file holding secret_key, made (readable by its owner only) with a new key
        if it does not exist. Default: secret.key beside the embedded SQLite store, in
        the Jupyter data directory (hidden from runs like the rest of it).""",
    )

    @validate("webhook_allowed_hosts")
    def _allow_list(self, proposal: dict[str, Any]) -> Any:
        AllowList.parse(proposal["value"])  # ValueError names the bad entry
        return proposal["value"]

    @default("secret_key_file")
    def _default_secret_key_file(self) -> str:
        return default_secret_key_file()

    kernel_pool_size = Integer(
        config=True,
        help="""Fresh kernels kept started and ready per kernelspec, so that a run does not
        wait for a kernel to start; each is still used by one run only, then killed.
        0 starts a kernel per run. Default: the number of CPUs, at most 4.""",
    )
    fork_kernelspecs = List(
        Unicode(),
        ["python3"],
        config=True,
        help="""Kernelspecs whose run kernels are forked from a warm "zygote" process (the
        fork-server provisioner) rather than spawned: still a process no earlier run
        touched, started in tens of milliseconds instead of half a second. Only ipykernel
        kernelspecs can be forked (others listed are spawned). Empty: spawn every kernel.""",
    )
    kernel_startup_timeout = Float(
        60.0,
        config=True,
        help="Seconds a run's kernel may take to start and answer before the run fails (500).",
    )
    kernel_env_denylist = Unicode(
        DEFAULT_ENV_DENYLIST,
        config=True,
        help="""Regular expression: server environment variables whose *names* match it are
        not passed to kernels (besides any variable whose value contains a server secret).""",
    )
    kernel_extra_env = Dict(
        value_trait=Unicode(),
        config=True,
        help="Environment variables added to every run's kernel (after scrubbing).",
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

    sandbox = Enum(
        ["auto", "required", "off"],
        "auto",
        config=True,
        help="""The sandbox of every run's kernel: its own PID, mount and IPC namespaces, a
        view of the file system without the server's places (Jupyter directories, root
        directory, $HOME, the store), private /tmp, /dev/shm and working directory, and the
        run_* limits. "auto": on where this machine allows it, else off with a loud
        warning (the log, and jupyter_scripting_sandbox_active 0 in /metrics);
        "required": the server refuses to start without it; "off": no sandbox.""",
    )
    sandbox_read_paths = List(
        Unicode(),
        config=True,
        help="""More paths a sandboxed kernel may read (read-only), besides the system
        paths (/usr, /etc, /bin, /sbin, /lib*) and its Python environment.""",
    )
    sandbox_network = Bool(
        True,
        config=True,
        help="""Whether sandboxed kernels share the host's network (to call other
        services). False: each gets a network namespace of its own with only a loopback
        interface (no connection leaves it, none reaches the host's local services).""",
    )
    sandbox_exempt_kernelspecs = List(
        Unicode(),
        config=True,
        help="""Kernelspecs whose kernels run without the sandbox (kernels that cannot run
        sandboxed, e.g. those with a provisioner of their own that starts them elsewhere).
        Not even ScriptingApp.sandbox = "required" sandboxes these.""",
    )
    run_memory_limit = Integer(
        1 << 30,
        config=True,
        help="""Bytes of memory a run's kernel and its processes may use together (0: no
        limit). Past it the script is stopped and the run answers 502 (reason
        "memory-limit"). A cgroup where the server may make one, else the address-space
        limit (RLIMIT_AS) of each process.""",
    )
    run_max_processes = Integer(
        64,
        config=True,
        help="""Processes and threads a run may have at once, the kernel's own included
        (0: no limit). A script that tries to start more gets an error (a fork bomb fails
        inside the run) and the run answers 502 (reason "process-limit"). A cgroup where
        the server may make one, else RLIMIT_NPROC in the run's user namespace.""",
    )
    run_max_file_size = Integer(
        256 << 20,
        config=True,
        help="Bytes a file written by a run may have (RLIMIT_FSIZE; 0: no limit).",
    )
    run_tmp_size = Integer(
        256 << 20,
        config=True,
        help="""Bytes a run's /tmp, /dev/shm and working directory may hold together (one
        tmpfs, in memory: it counts towards run_memory_limit too; 0: half the memory).""",
    )

    @validate("run_memory_limit", "run_max_processes", "run_max_file_size", "run_tmp_size")
    def _zero_or_more(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be 0 (no limit) or more")
        return proposal["value"]

    @default("kernel_pool_size")
    def _default_kernel_pool_size(self) -> int:
        return max(1, min(4, os.cpu_count() or 1))

    @validate("kernel_pool_size")
    def _not_negative(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] < 0:
            raise ValueError("kernel_pool_size must be 0 or more")
        return proposal["value"]

    @default("node_name")
    def _default_node_name(self) -> str:
        if self._server is None:  # a worker (jupyter scripting worker)
            return f"{socket.gethostname()}:worker:{os.getpid()}"
        return f"{socket.gethostname()}:{self._server.port}"

    @property
    def _server(self) -> Any:
        """The Jupyter server this node serves HTTP with (None: a worker)."""
        return None if getattr(self, "node_kind", "server") == "worker" else self.serverapp

    @validate("max_node_background_runs")
    def _none_or_not_negative(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] is not None and proposal["value"] < 0:
            raise ValueError("max_node_background_runs must be None, 0 or more")
        return proposal["value"]

    @default("database_url")
    def _default_database_url(self) -> str:
        return default_database_url()

    @validate(
        "max_sync_runs_per_tenant",
        "sync_timeout",
        "max_background_runs",
        "background_timeout",
        "queue_poll_interval",
        "schedule_interval",
        "webhook_retry_hours",
        "webhook_backoff",
        "webhook_timeout",
        "webhook_interval",
        "webhook_max_concurrent",
        "log_retention_interval",
        "kernel_startup_timeout",
        "heartbeat_interval",
        "node_timeout",
    )
    def _positive(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    def initialize_settings(self) -> None:
        # jupyter_server logs an extension that fails to load and serves on without it:
        # every /scripting route would answer its HTML 404 ("no such script"). A server
        # that cannot serve scripts refuses to start instead, saying why in one line.
        try:
            self._initialize()
        except (StoreMisconfigured, SandboxUnavailable) as e:
            self.log.critical("jupyter_scripting cannot start: %s", e)
            raise SystemExit(1) from None
        except Exception as e:
            self.log.critical("jupyter_scripting cannot start: %s", e, exc_info=True)
            raise SystemExit(1) from None

    def _initialize(self) -> None:
        self.build_service("server")
        assert self.serverapp is not None  # an extension app is always loaded by a server
        self.settings.update(
            scripting_service=self.service,
            scripting_secrets=self.server_secrets,
            scripting_identity_provider=ScriptingIdentityProvider(
                self.serverapp.identity_provider, self.service
            ),
            scripting_authorizer=ScriptingAuthorizer(self.serverapp.authorizer),
        )

    def build_service(self, kind: str) -> ScriptingService:
        """The store, the sandbox, the kernels, the runner and the service of this node
        (a ``server`` here, or a ``worker``: :mod:`jupyter_scripting.worker`)."""
        self.node_kind = kind
        self.store = Store(self.database_url)
        self.store.delivery_rules = DeliveryRules(
            log_url_of(self._public_url()), dt.timedelta(hours=self.webhook_retry_hours)
        )
        identity = self._server.identity_provider if self._server else None
        secrets = [str(getattr(identity, "token", "") or "")]
        secrets += [os.environ.get(v, "") for v in ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN")]
        self.server_secrets = [s for s in secrets if s]
        kernel_spec_manager = getattr(self._server, "kernel_spec_manager", None)
        # Before the sandbox: the key file it hides must exist.
        keyring = Keyring(self.secret_key or load_key(self.secret_key_file))
        self.sandbox_policy = self._start_sandbox()
        run_log = quiet_child(self.log, "runs")
        kernels = KernelPool(
            parent=self,
            log=run_log,
            secrets=self.server_secrets,
            pool_size=self.kernel_pool_size,
            fork_kernelspecs=self.fork_kernelspecs,
            startup_timeout=self.kernel_startup_timeout,
            env_denylist=self.kernel_env_denylist,
            extra_env=self.kernel_extra_env,
            sandbox=self.sandbox_policy,
        )
        if kernel_spec_manager is not None:
            kernels.kernel_spec_manager = kernel_spec_manager
        self.kernels = kernels
        self.service = ScriptingService(
            self.store,
            Runner(parent=self, log=run_log, kernels=kernels, max_output_size=self.max_output_size),
            self._settings_of(Limits),
            node=self.node_name,
            kind=kind,
            log=self.log,
            webhook_settings=self._settings_of(WebhookSettings),
            keyring=keyring,
        )
        self.log.info(
            "jupyter_scripting %s: %s node %r, store %s",
            __version__,
            kind,
            self.node_name,
            self._safe_url(),
        )
        if self.store.sqlite_directory is not None or self.database_url.startswith("sqlite"):
            self.log.info(
                "The SQLite store serves one node: share a PostgreSQL store "
                "(ScriptingApp.database_url) to run several"
            )
        return self.service

    def _start_sandbox(self) -> Sandbox:
        """Find out whether runs can be sandboxed here (raises if they must and cannot)."""
        policy = Sandbox(
            mode=self.sandbox,
            limits=self._settings_of(SandboxLimits),
            read_paths=list(self.sandbox_read_paths),
            hidden_paths=[
                *jupyter_paths_to_hide(self._server, self.store.sqlite_directory),
                *([] if self.secret_key else [os.path.abspath(self.secret_key_file)]),
            ],
            network=self.sandbox_network,
            exempt_kernelspecs=list(self.sandbox_exempt_kernelspecs),
            log=self.log,
        )
        policy.start()  # SandboxUnavailable when it is required and cannot be had
        SANDBOX_ACTIVE.set(1 if policy.active else 0)
        return policy

    def _settings_of(self, kind: type[_Settings]) -> _Settings:
        """A settings dataclass whose fields are traits of this app, filled from them."""
        return kind(**{f.name: getattr(self, f.name) for f in dataclasses.fields(kind)})  # type: ignore[arg-type]

    def _public_url(self) -> str:
        """Where callers reach this service (``public_url``, else the server's URL; a
        worker with neither writes log URLs relative to the server's root)."""
        if self.public_url:
            return self.public_url
        return str(getattr(self._server, "connection_url", "") or "/")

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
                (rf"{script}/schema/?", SchemaHandler),
                (rf"{script}/openapi.json", ScriptOpenApiHandler),
                (rf"{script}/schedule/?", SchedulesHandler),
                (rf"{script}/schedule/{_ID}/?", ScheduleHandler),
                (rf"{script}/run/?", RunHandler),
                (rf"{script}/background/?", BackgroundHandler),
                (rf"/scripting/log/script/{_ID}/?", LogHandler),
                (r"/scripting/key/?", KeysHandler),
                (rf"/scripting/key/{_ID}/?", KeyHandler),
                (rf"{execution}/?", ExecutionHandler),
                (rf"{execution}/notebook/?", ExecutionNotebookHandler),
                (rf"{execution}/events/?", ExecutionEventsHandler),
                (rf"{execution}/deliveries/?", DeliveriesHandler),
                (r"/scripting/webhook/secret/?", SigningSecretHandler),
                (r"/scripting/variables/?", VariablesHandler),
                (rf"/scripting/variables/{_ID}/?", VariableHandler),
                (r"/scripting/openapi.json", OpenApiHandler),
                (r"/scripting(?:/.*)?", NotFoundHandler),
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # The HTTP server exists now (jupyter_server makes it after loading extensions).
        widen_header_limit(serverapp, self.max_header_size, self.log)
        self.kernels.start_pools()
        try:
            await self.service.start()
        except Exception as e:
            self.log.error(
                "%s The server keeps trying (every request, and the background queue every "
                "%g s); background runs start once it opens.",
                e,
                self.queue_poll_interval,
            )
        # Log retention starts with the store's first opening, whenever that is.
        self._retention_start = asyncio.ensure_future(self._start_retention())

    async def _start_retention(self) -> None:
        await self.service.opened.wait()
        self._retention = PeriodicCallback(self._prune, self.log_retention_interval * 1000)
        self._retention.start()

    async def _prune(self) -> None:
        older_than = None
        if self.log_retention_days is not None:
            older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.log_retention_days)
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
        if getattr(self, "service", None) is None:
            return None
        sync = self.service.sync_runs_in_flight
        background = len(self.service.background.running)
        if not sync and not background:
            return None
        return {"sync_runs": sync, "background_runs": background}

    async def stop_extension(self) -> None:
        # Never raises: jupyter_server stops its other parts (and exits) after this.
        starting = getattr(self, "_retention_start", None)
        if starting is not None:
            starting.cancel()
        retention = getattr(self, "_retention", None)
        if retention is not None:
            retention.stop()
        service = getattr(self, "service", None)
        if service is None:
            return
        try:
            await service.stop()
        except Exception:
            self.log.exception("jupyter_scripting did not stop cleanly")
