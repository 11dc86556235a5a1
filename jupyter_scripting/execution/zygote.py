"""The fork server's "zygote": a process that has imported the kernel stack, and forks.

Started by :class:`jupyter_scripting.execution.forkserver.ForkServer` as a script
(``zygote.py PROTOCOL_FD LIFELINE_FD``, run by path so that its children do not have this
package imported) with the scrubbed kernel environment. It imports ipykernel (and what
ipykernel's start-up would import anyway), enumerates the network interfaces once, then
waits. For each request it forks a
child that becomes a brand-new ipykernel process: no user code ever ran in the zygote, so
every child is a process no earlier run touched.

The protocol is one JSON object per line on ``PROTOCOL_FD`` (a socket to the server):

* request ``{"id": n, "argv": [...], "env": {...}, "cwd": "..."}`` — ``argv`` is what
  follows ``python -m ipykernel_launcher`` in the kernelspec (``-f CONNECTION_FILE``);
* answer ``{"id": n, "pid": PID}`` or ``{"id": n, "error": "..."}``.

Each child calls ``setsid()`` (its process group is its pid, so the server can kill it
with everything it started), gets exactly the requested environment and working
directory, and watches ``LIFELINE_FD``, a pipe whose only writer is the server: when
the server dies, the pipe reads EOF and the child kills its process group. The zygote
exits on EOF of the protocol socket. It reaps its children as they exit (SIGCHLD), so
no zombie stays and their CPU time is accounted to it; the server watches each child
through a pidfd.

The zygote also builds, once, what every kernel would build the same way (``prebuild``):
IPKernelApp's own set-up (its configuration files, its profile) and the
``ZMQInteractiveShell`` with everything in it (magics, completer, formatters, the
namespaces, no history: a single-use kernel keeps none). A child then only does what must
be its own: it points the shell at its run's IPython directory and working directory,
binds its sockets, starts its threads, makes its session and kernel object (which finds
the shell, a singleton) and attaches them. No user code ever runs in the zygote: each child
is still a process no run has touched.

The zygote never starts a thread nor a ZeroMQ context before forking: both would be
unsafe to inherit.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import traceback
from typing import Any

#: Imported by the zygote so that each child need not: what ``IPKernelApp.initialize``
#: imports on the way to a ready kernel (measured with ``python -X importtime``).
PREIMPORTS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.iostream",
    "ipykernel.heartbeat",
    "ipykernel.comm",
    "ipykernel.displayhook",
    "ipykernel.eventloops",
    "ipykernel.parentpoller",
    "ipykernel.subshell_manager",
    "ipykernel.debugger",  # imports debugpy: ~100 ms a child would otherwise spend
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "IPython.core.history",
    "IPython.core.magics",
    "IPython.core.profiledir",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "jupyter_client.session",
    "jupyter_client.localinterfaces",
    "psutil",
    "comm",
    "sqlite3",
    "pdb",
    "http.server",
    "gzip",
    "faulthandler",
    "encodings.idna",
    "zmq",
    "zmq.asyncio",
    "tornado.ioloop",
    "tornado.platform.asyncio",
    "anyio",
    "matplotlib_inline.backend_inline",
)


def preload() -> None:
    """Import the kernel stack and do the start-up work that is the same for every kernel."""
    import importlib
    import importlib.util

    for name in PREIMPORTS:
        try:
            importlib.import_module(name)
        except Exception:
            continue
    try:
        from jupyter_client import localinterfaces

        localinterfaces.local_ips()  # cached in the module: children do not enumerate again
    except Exception:
        pass
    try:
        # IPython transforms every cell with the tokenize module, whose regular
        # expressions are compiled on first use (~17 ms a child would pay on its first
        # execution). A pure function: no shell is created here.
        from IPython.core.inputtransformer2 import TransformerManager

        TransformerManager().transform_cell("pass\n")
    except Exception:
        pass
    precompile_kernel_side()
    global _LAUNCHER
    spec = importlib.util.find_spec("ipykernel_launcher")
    if spec is not None and spec.origin:
        _LAUNCHER = spec.origin
    if threading.active_count() != 1:  # pragma: no cover - a preimport started a thread
        raise RuntimeError("a preloaded module started a thread; forking would be unsafe")


#: What the runner's hand-over looks for in ``sys`` (``runner.PRECOMPILED``).
_PRECOMPILED = "_jupyter_scripting_code"


def precompile_kernel_side() -> None:
    """Compile the kernel-side code (``runtime/kernel_side.py``, the source the runner's
    hand-over carries) once: each child's hand-over takes the code object from
    ``sys._jupyter_scripting_code`` (keyed by the source text, so a server whose source
    differs compiles its own) and removes it. Only compiled: nothing of it runs here."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(os.path.dirname(here), "runtime", "kernel_side.py")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, "<jupyter-scripting>", "exec")
    except (OSError, SyntaxError, ValueError):
        return
    setattr(sys, _PRECOMPILED, {source: code})


def prebuild() -> None:
    """Build the kernel application and its shell (see the module's docstring); kept in
    ``_PREBUILT`` for the children. Skipped (children build their own, as a spawned
    kernel does) if the configuration names another kernel class or anything fails."""
    global _PREBUILT
    try:
        from ipykernel.compiler import XCachingCompiler
        from ipykernel.ipkernel import IPythonKernel
        from ipykernel.kernelapp import IPKernelApp
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython.core.application import BaseIPythonApplication
        from traitlets.config import Config

        app = IPKernelApp.instance(config=Config({"HistoryManager": {"enabled": False}}))
        # The application's set-up without a command line (each child's is ``-f FILE``).
        BaseIPythonApplication.initialize(app, [])
        if app.kernel_class is not IPythonKernel or app.subapp is not None:
            _forget_prebuilt()
            return
        # The shell as IPythonKernel would make it (parent, profile, compiler); the kernel
        # object made in the child finds it and attaches its sockets and session to it.
        shell = ZMQInteractiveShell.instance(
            parent=app,
            profile_dir=app.profile_dir,
            user_module=None,
            user_ns=None,
            kernel=None,
            compiler_class=XCachingCompiler,
        )
        # The display formatters are made on first use (~2 ms a child would spend on
        # its first user_expressions reply): made here, by formatting a constant.
        if shell.display_formatter is not None:
            shell.display_formatter.format(None)
    except Exception:
        traceback.print_exc()
        _forget_prebuilt()
        return
    # traitlets keeps the application's logger at DEBUG and filters in its handler: at
    # the handler's level, the kernel's many debug calls build no record each.
    levels = [handler.level for handler in app.log.handlers]
    if levels:
        app.log.setLevel(min(levels))
    _PREBUILT = app


def _forget_prebuilt() -> None:
    """Drop a partly built application and shell (children then build their own)."""
    global _PREBUILT
    _PREBUILT = None
    try:
        from ipykernel.kernelapp import IPKernelApp
        from ipykernel.zmqshell import ZMQInteractiveShell

        IPKernelApp.clear_instance()
        ZMQInteractiveShell.clear_instance()
    except Exception:
        pass


#: The kernel application built by ``prebuild`` (None: each child builds its own).
_PREBUILT: Any = None


def _start_prebuilt(connection_file: str) -> Any:
    """Finish the pre-built application as this run's kernel (in the child)."""
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython.core.application import BaseIPythonApplication
    from IPython.core.profiledir import ProfileDir

    app = _PREBUILT
    shell = ZMQInteractiveShell.instance()
    app.connection_file = connection_file
    # What the shell took from the zygote's process when it was built: its IPython
    # directory (this run's own: its startup files, %store's database), its working
    # directory, and the variables it sets in os.environ (cleared since).
    from IPython.paths import get_ipython_dir

    ipython_dir = get_ipython_dir()  # $IPYTHONDIR (the run's own), else ~/.ipython
    profile_dir = ProfileDir.create_profile_dir_by_name(ipython_dir, app.profile)
    app.profile_dir = shell.profile_dir = profile_dir
    app.ipython_dir = shell.ipython_dir = ipython_dir
    shell.starting_dir = os.getcwd()
    if shell.history_manager is not None:
        shell.history_manager.dir_hist[:] = [os.getcwd()]
    shell.init_environment()
    # IPKernelApp.initialize does the rest: the sockets, the threads, the kernel. Its
    # first step, the application's own set-up, was done in the zygote.
    BaseIPythonApplication.initialize = lambda self, argv=None: None  # type: ignore[method-assign]
    app.initialize([])
    shell.kernel = app.kernel
    return app


#: What ``sys.argv[0]`` is in a kernel spawned as ``python -m ipykernel_launcher``.
_LAUNCHER = "ipykernel_launcher"


def _load_sandbox() -> Any:
    """The sandbox module (:mod:`jupyter_scripting.execution.sandbox`), loaded by path
    under a private name: kernels must not find this package imported."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")
    spec = importlib.util.spec_from_file_location("_jupyter_scripting_sandbox", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SANDBOX: Any = None
#: This interpreter's prefixes and sys.path: what a sandboxed kernel must see (found once).
_PYTHON_PATHS: list[str] = []


def _child(request: dict[str, Any], protocol_fd: int, lifeline_fd: int, init: bool) -> int:
    """Become a fresh kernel (runs in the forked child; returns the exit code). ``init``:
    this child is PID 1 of the run's own PID namespace (``sandbox.fork_init``)."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.close(protocol_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # kernel chatter goes where the zygote's stderr goes (the server's)
    config = request.get("sandbox")
    if config:
        config = {**config, "read_only": [*config["read_only"], *_PYTHON_PATHS]}
        try:
            if init:
                # Forked into the run's PID namespace (as root: ``_fork``): this process is
                # its init, watching the lifeline; enter_init() returns in the kernel.
                _SANDBOX.enter_init(config, lifeline_fd)
            else:
                # This process stays outside as the sandbox's supervisor (watching the
                # lifeline); enter() returns in the kernel, PID 2 of its namespaces.
                _SANDBOX.enter(config, lifeline_fd)
        except FileNotFoundError:
            return 1  # its run ended before this fork was served (as below)
        except OSError as e:
            print(f"jupyter_scripting sandbox: {e}", file=sys.stderr, flush=True)
            return int(_SANDBOX.SETUP_FAILED)
    try:
        os.chdir(request["cwd"])
    except FileNotFoundError:
        # Its run ended (a deadline passed) and removed the directory before this fork
        # was served: there is no kernel to become, and nothing to report.
        return 1
    os.environ.clear()
    os.environ.update(request["env"])
    # The zygote is not the kernel's manager: the lifeline, not ipykernel's parent
    # poller, ties the kernel to the server ("1" turns the poller off).
    os.environ["JPY_PARENT_PID"] = "1"

    def watch_lifeline() -> None:
        try:
            while os.read(lifeline_fd, 1):
                pass
        except OSError:
            pass
        os.killpg(os.getpid(), signal.SIGKILL)

    if not config:  # (a sandbox's supervisor watches the lifeline)
        threading.Thread(target=watch_lifeline, name="lifeline", daemon=True).start()
    sys.argv = [_LAUNCHER, *request["argv"]]
    from ipykernel.kernelapp import IPKernelApp

    argv = list(request["argv"])
    if len(argv) == 2 and argv[0] == "-f" and _PREBUILT is not None:
        app = _start_prebuilt(argv[1])
    elif len(argv) == 2 and argv[0] == "-f":
        # The usual kernelspec (``-f CONNECTION_FILE``): the same settings as the command
        # line would give, without building traitlets' argument parser (~10 ms of CPU).
        from traitlets.config import Config

        app = IPKernelApp.instance(config=Config({"IPKernelApp": {"connection_file": argv[1]}}))
        app.parse_command_line = lambda argv=None: None  # type: ignore[method-assign]
        app.initialize([])
    else:
        _forget_prebuilt()  # this kernelspec's own command line builds its own
        app = IPKernelApp.instance()
        app.initialize(argv)
    app.start()
    return 0


def _fork(request: dict[str, Any], protocol_fd: int, lifeline_fd: int) -> int:
    sandboxed = request.get("sandbox") or {}
    init = bool(sandboxed) and not sandboxed.get("userns")
    # As root, the child is born PID 1 of the run's own PID namespace.
    pid = _SANDBOX.fork_init() if init else os.fork()
    if pid:
        return pid
    code = 1
    try:
        code = _child(request, protocol_fd, lifeline_fd, init)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return 0  # not reached


def _reap(signum: int, frame: object) -> None:
    """Reap exited children (their CPU time then counts in the zygote's ``children_*``)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def prepare() -> None:
    """Import, pre-build and freeze what every child shares (before the first fork)."""
    preload()
    # The pre-built profile goes in a directory of the zygote's own, removed at once:
    # each child points its shell at its run's IPython directory.
    build_dir = tempfile.mkdtemp(prefix="jupyter-scripting-zygote-")
    os.environ["IPYTHONDIR"] = build_dir
    try:
        prebuild()
    finally:
        os.environ.pop("IPYTHONDIR", None)
        shutil.rmtree(build_dir, ignore_errors=True)
    if threading.active_count() != 1:  # pragma: no cover - the shell started a thread
        raise RuntimeError("building the kernel started a thread; forking would be unsafe")
    gc.collect()
    gc.freeze()  # keep the preloaded objects' pages shared with every child


def serve(protocol_fd: int, lifeline_fd: int) -> None:
    """Answer fork requests until the server closes the protocol socket."""
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    # ipykernel reads JPY_PARENT_PID when it is imported: "1" turns its parent poller
    # off in every child (the lifeline ties them to the server instead).
    os.environ["JPY_PARENT_PID"] = "1"
    # debugpy (imported by ipykernel's debugger) warns about frozen modules on import.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    global _SANDBOX, _PYTHON_PATHS
    _SANDBOX = _load_sandbox()
    _PYTHON_PATHS = _SANDBOX.python_paths()
    # Orphans of its children (a sandbox's init whose supervisor was killed) become its
    # own, and are reaped.
    _SANDBOX.prctl(_SANDBOX.PR_SET_CHILD_SUBREAPER, 1)
    prepare()
    sock = socket.socket(fileno=protocol_fd)
    reader = sock.makefile("rb")
    sock.sendall(b'{"ready": true, "pid": %d}\n' % os.getpid())
    for line in reader:
        answer: dict[str, Any] = {"id": None}
        try:
            request = json.loads(line)
            answer["id"] = request["id"]
            answer["pid"] = _fork(request, protocol_fd, lifeline_fd)
        except Exception as e:
            answer["error"] = f"{type(e).__name__}: {e}"
        sock.sendall(json.dumps(answer).encode() + b"\n")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    serve(int(args[0]), int(args[1]))


if __name__ == "__main__":
    main()
