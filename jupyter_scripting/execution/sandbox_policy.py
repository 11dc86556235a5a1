"""What a run's sandbox contains and limits: the server's side of :mod:`.sandbox`.

:class:`Sandbox` is made once by ``ScriptingApp`` from its traits. It finds out at start
whether this machine lets the service build sandboxes (a real sandbox is entered once,
by a probe process), which paths every kernel must not see (the Jupyter directories,
the server's root directory, ``$HOME``, the store), and whether per-run limits can be
cgroups (:class:`Cgroups`) or only ``setrlimit`` ones. For each kernel it then gives the
configuration that :func:`.sandbox.enter` enforces, and after a failed run it tells
whether a limit was what stopped the script.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from . import sandbox

#: The uid and gid a sandboxed kernel runs as when the server runs as root ("nobody").
SANDBOX_UID = 65534
SANDBOX_GID = 65534

log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """``sandbox = "required"`` and this machine cannot build a sandbox."""


# -- cgroups ----------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _counter(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            with contextlib.suppress(ValueError):
                return int(value)
    return 0


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path in a v1 controller's hierarchy ("" for v2's)."""
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (not controller and not controllers):
            return path
    return "/"


@dataclass
class Cgroups:
    """Per-run memory and pids cgroups under one base directory per controller.

    cgroup v1 (a ``memory`` and a ``pids`` hierarchy, writable: as root) or v2 (when
    this process is in the hierarchy's root cgroup, or the base is delegated to it)."""

    version: int
    memory_base: str
    pids_base: str

    NAME = "jupyter-scripting"

    @classmethod
    def detect(cls) -> Cgroups | None:
        """The cgroups this process may create, or None."""
        mounts: dict[str, str] = {}
        v2 = None
        for line in _read("/proc/self/mounts").splitlines():
            _, point, fstype, options, *_ = line.split()
            if fstype == "cgroup":
                for option in options.split(","):
                    if option in ("memory", "pids"):
                        mounts[option] = point
            elif fstype == "cgroup2" and v2 is None:
                v2 = point
        if "memory" in mounts and "pids" in mounts:
            found = cls(
                1,
                os.path.join(mounts["memory"] + _own_cgroup("memory"), cls.NAME),
                os.path.join(mounts["pids"] + _own_cgroup("pids"), cls.NAME),
            )
            if found._prepare():
                return found
        elif v2 is not None and "memory" not in mounts and "pids" not in mounts:
            base = os.path.join(v2 + _own_cgroup(""), cls.NAME)
            found = cls(2, base, base)
            if found._prepare():
                return found
        return None

    def _prepare(self) -> bool:
        try:
            for base in {self.memory_base, self.pids_base}:
                os.makedirs(base, exist_ok=True)
            if self.version == 2:
                parent = os.path.dirname(self.memory_base)
                for controller in ("memory", "pids"):
                    if controller not in _read(f"{parent}/cgroup.subtree_control").split():
                        with open(f"{parent}/cgroup.subtree_control", "w") as f:
                            f.write(f"+{controller}")
                with open(f"{self.memory_base}/cgroup.subtree_control", "w") as f:
                    f.write("+memory +pids")
            self._remove_stale()
            probe = self.create(f"{os.getpid()}-probe", memory=1 << 30, processes=64)
            self.remove(probe)
        except OSError as e:
            log.debug("No cgroups for runs (%s): %s", self.memory_base, e)
            return False
        return True

    def _remove_stale(self) -> None:
        """Remove what servers that are gone left (a run's cgroup is named after the
        server's pid: other servers' are not touched, even before their kernel joins)."""
        for base in {self.memory_base, self.pids_base}:
            for name in os.listdir(base):
                owner = name.split("-", 1)[0]
                if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.join(base, name))

    def create(self, name: str, *, memory: int, processes: int) -> list[str]:
        """Make the run's cgroups with their limits (0: none); their directories."""
        memory_dir = os.path.join(self.memory_base, name)
        pids_dir = os.path.join(self.pids_base, name)
        made = []
        try:
            for path in dict.fromkeys((memory_dir, pids_dir)):
                os.mkdir(path)
                made.append(path)
            if memory:
                # v1 caps memory+swap together; v2 caps swap on its own (to none).
                limit, swap, swap_value = (
                    ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", memory)
                    if self.version == 1
                    else ("memory.max", "memory.swap.max", 0)
                )
                _write(memory_dir, limit, memory)
                if os.path.exists(os.path.join(memory_dir, swap)):
                    _write(memory_dir, swap, swap_value)
            if processes:
                _write(pids_dir, "pids.max", processes)
        except OSError:
            self.remove(made)
            raise
        return made

    def reached(self, dirs: list[str]) -> str | None:
        """``"memory"`` or ``"processes"`` if the run's cgroups hit that limit."""
        if not dirs:
            return None
        memory_dir, pids_dir = dirs[0], dirs[-1]
        # The OOM killer's kills, or else the times usage hit the limit (a run that
        # failed after reaching it failed because of it).
        if self.version == 1:
            memory = _counter(_read(f"{memory_dir}/memory.oom_control"), "oom_kill")
            memory = memory or int(_read(f"{memory_dir}/memory.failcnt") or 0)
        else:
            events = _read(f"{memory_dir}/memory.events")
            memory = _counter(events, "oom_kill") or _counter(events, "max")
        if memory:
            return "memory"
        if _counter(_read(f"{pids_dir}/pids.events"), "max"):
            return "processes"
        return None

    def remove(self, dirs: list[str], wait: float = 0.0) -> None:
        """Remove the run's cgroups, waiting up to ``wait`` s for their last processes."""
        deadline = time.monotonic() + wait
        for path in dirs:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        log.debug("cgroup %s still busy; left for the next start", path)
                        break
                    time.sleep(0.02)


def _write(directory: str, name: str, value: int) -> None:
    with open(os.path.join(directory, name), "w") as f:
        f.write(str(value))


# -- the policy -------------------------------------------------------------------------
@dataclass
class Limits:
    """Per-run limits, each 0 for none: the ``ScriptingApp`` traits of the same names
    (their defaults and checks are there), filled in by the app."""

    run_memory_limit: int
    run_max_processes: int
    run_max_file_size: int
    run_tmp_size: int


@dataclass
class Sandbox:
    """The sandbox every run's kernel gets (see the module's doc)."""

    mode: str = "auto"  # "auto", "required", "off"
    limits: Limits = field(default_factory=lambda: Limits(0, 0, 0, 0))  # none
    read_paths: list[str] = field(default_factory=list)
    hidden_paths: list[str] = field(default_factory=list)
    network: bool = True
    exempt_kernelspecs: list[str] = field(default_factory=list)
    #: After :meth:`start`: whether kernels are sandboxed, and if not, why.
    active: bool = False
    reason: str = ""
    cgroups: Cgroups | None = None
    userns: bool = field(default_factory=lambda: os.geteuid() != 0)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))
    _read_only: list[str] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)

    def start(self) -> None:
        """Find out what this machine allows. ``SandboxUnavailable`` when the mode is
        ``required`` and no sandbox can be made; with ``auto``, one loud warning."""
        if self.mode == "off":
            self.active, self.reason = False, "ScriptingApp.sandbox is 'off'"
            self.log.warning("The run sandbox is off (ScriptingApp.sandbox = 'off'): %s", EXPOSED)
            return
        self._read_only = list(
            dict.fromkeys([*sandbox.SYSTEM_PATHS, *sandbox.python_paths(), *self.read_paths])
        )
        failure = self._probe()
        if failure is None:
            self.active, self.reason = True, ""
            if self.limits.run_memory_limit or self.limits.run_max_processes:
                self.cgroups = Cgroups.detect()
            self.log.info("Run sandbox: %s", self.describe())
            return
        self.active, self.reason = False, failure
        message = f"No sandbox can be made for runs on this machine: {failure}."
        if self.mode == "required":
            raise SandboxUnavailable(
                f"{message} ScriptingApp.sandbox is 'required': the server does not start. "
                "Allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                "or a container runtime whose seccomp profile permits unshare), run the "
                "server as root, or set ScriptingApp.sandbox = 'auto'."
            )
        self.log.warning("!" * 78)
        self.log.warning("%s The run sandbox is OFF (sandbox = 'auto'): %s", message, EXPOSED)
        self.log.warning("!" * 78)

    def _probe(self) -> str | None:
        """None if a real sandbox could be entered here; else why not."""
        with tempfile.TemporaryDirectory(prefix="jupyter-scripting-probe-") as scratch:
            config = self._config(scratch, cgroups=[])
            try:
                done = subprocess.run(
                    [sys.executable, "-I", sandbox.__file__, "--probe", json.dumps(config)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    env={k: v for k, v in os.environ.items() if k in ("PATH", sandbox.REFUSE_ENV)},
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                return f"the probe could not run ({e})"
        if done.returncode == 0:
            return None
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {done.returncode}"
        return detail.removeprefix("jupyter_scripting sandbox: ")

    def describe(self) -> str:
        """One line for the log: the mode in force and how limits apply."""
        if not self.active:
            return f"off ({self.reason})"
        how = "user namespace" if self.userns else f"uid {SANDBOX_UID}"
        limits = f"cgroup v{self.cgroups.version}" if self.cgroups is not None else "setrlimit"
        network = "host network" if self.network else "no network"
        return f"on (namespaces, {how}, {network}; memory and process limits by {limits})"

    def applies_to(self, kernel_name: str) -> bool:
        return self.active and kernel_name not in self.exempt_kernelspecs

    def _config(self, runtime_dir: str, cgroups: list[str]) -> dict[str, Any]:
        limits = self.limits
        return {
            "userns": self.userns,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "read_only": self._read_only,
            "hidden": self.hidden_paths,
            "writable": [runtime_dir],
            "home": sandbox.HOME,
            "network": self.network,
            "tmp_size": limits.run_tmp_size,
            "memory": limits.run_memory_limit,
            "processes": limits.run_max_processes,
            "file_size": limits.run_max_file_size,
            "cgroups": cgroups,
        }

    def kernel_config(self, kernel_name: str, runtime_dir: str) -> dict[str, Any] | None:
        """The sandbox of one kernel (its cgroups made), or None: not sandboxed."""
        if not self.applies_to(kernel_name):
            return None
        cgroups: list[str] = []
        if self.cgroups is not None:
            cgroups = self.cgroups.create(
                f"{os.getpid()}-{os.path.basename(runtime_dir)}",
                memory=self.limits.run_memory_limit,
                processes=self.limits.run_max_processes,
            )
        return self._config(runtime_dir, cgroups)

    def limit_reached(self, config: dict[str, Any] | None, ename: str | None) -> str | None:
        """Which limit stopped a failed run: ``"memory"``, ``"processes"`` or None.

        From the run's cgroups when it has some; else from the script's error (what
        ``setrlimit`` limits make Python raise)."""
        if config is None:
            return None
        if config["cgroups"] and self.cgroups is not None:
            return self.cgroups.reached(config["cgroups"])
        if ename == "MemoryError" and config["memory"]:
            return "memory"
        if ename == "BlockingIOError" and config["processes"] and config["userns"]:
            return "processes"
        return None

    def release(self, config: dict[str, Any] | None) -> None:
        """Remove the kernel's cgroups (its processes are being killed: wait for them)."""
        if config and config["cgroups"] and self.cgroups is not None:
            self.cgroups.remove(config["cgroups"], wait=5.0)

    def warn_once(self, kernel_name: str, why: str) -> None:
        if kernel_name not in self._warned:
            self._warned.add(kernel_name)
            self.log.warning("Kernels of %r run without the sandbox: %s", kernel_name, why)


#: What a script can do without the sandbox (for the warnings).
EXPOSED = (
    "every script sees what the server sees (its processes and their command lines, "
    "the store, the Jupyter directories) and has no memory or process limit."
)


def jupyter_paths_to_hide(serverapp: Any, store_directory: str | None) -> list[str]:
    """The server's own places: Jupyter data, runtime and config directories, its root
    directory, ``$HOME``, the working directory and the store's (an SQLite file's)."""
    from jupyter_core.paths import (
        jupyter_config_dir,
        jupyter_config_path,
        jupyter_data_dir,
        jupyter_runtime_dir,
    )

    paths = [jupyter_data_dir(), jupyter_runtime_dir(), jupyter_config_dir()]
    paths += jupyter_config_path()
    paths += [os.path.expanduser("~"), os.getcwd()]
    if store_directory is not None:
        paths.append(store_directory)
    if serverapp is not None:
        for name in ("root_dir", "runtime_dir", "data_dir", "config_dir"):
            paths.append(str(getattr(serverapp, name, "") or ""))
    found = [os.path.realpath(os.path.abspath(path)) for path in paths if path]
    return list(dict.fromkeys(found))
