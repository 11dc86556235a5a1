"""The sandbox of one run's kernel: Linux namespaces, a private file system view, limits.

This module is the part that runs *in the kernel's process tree*, so it uses the
standard library only (it is loaded by path into the fork server's zygote, and run as a
script by the spawn path: ``python -I sandbox.py --exec CONFIG -- KERNEL COMMAND...``).
The server decides the policy (:mod:`.sandbox_policy`); this enforces it.

:func:`enter` turns the calling process into a sandboxed kernel in three processes:

* **the supervisor** (the caller: the process the server knows, killed with its process
  group when the run ends) joins the run's cgroups, calls ``unshare`` for new mount, PID
  and IPC namespaces (a user namespace too when the server is not root; a network
  namespace when asked), forks, then only waits: for its child to exit, or for the
  server's lifeline to close;
* **the namespace's init** (PID 1 inside) builds the file system view, mounts ``/proc``
  for the new PID namespace, sets the limits, drops every privilege, forks the kernel,
  and reaps orphans. When it exits, the Linux kernel kills every process left in the
  namespace — detached ones included: nothing a run started outlives it;
* **the kernel** (PID 2 inside), for which :func:`enter` returns.

The fork server, when root, makes it two: :func:`fork_init` forks its child straight into
a new PID namespace, and the child calls :func:`enter_init`, becoming the namespace's init
(and the process the server knows) with no supervisor: one fork of the zygote's large
image less per run. A user namespace (a server that is not root) needs the three.

The file system view is a new root on a small tmpfs: the system and Python-environment
paths read-only (bind mounts), the paths to hide masked by empty read-only tmpfs mounts,
the run's runtime directory (its connection file and IPC sockets) read-write, and one
size-capped tmpfs shared by ``/tmp``, ``/dev/shm`` and the working directory. Nothing
else of the host exists there; in particular no other kernel's connection file or socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import resource
import select
import signal
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# SECBIT_NOROOT and its lock, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE and
# its lock: an execve never grants capabilities again, whatever the uid.
SECUREBITS = 0x01 | 0x02 | 0x20 | 0x40 | 0x80

_SYSCALLS = {  # pivot_root, capset
    "x86_64": (155, 126),
    "aarch64": (41, 91),
}

#: The working directory (and ``HOME``) of a sandboxed kernel.
HOME = "/home/script"

#: What a test sets to make ``unshare`` fail as a machine that refuses namespaces would
#: (Docker's default seccomp profile, ``kernel.unprivileged_userns_clone=0``).
REFUSE_ENV = "JUPYTER_SCRIPTING_TEST_REFUSE_NAMESPACES"

#: Exit code of a sandbox that could not be built (the server's log has the reason).
SETUP_FAILED = 121

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
_libc.mount.argtypes += [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.argtypes += [ctypes.c_ulong, ctypes.c_ulong]


class SandboxError(OSError):
    """A step of the sandbox failed (its message names the step)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise SandboxError(code, f"{what}: {os.strerror(code)}")


def _b(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, data.encode() if data else None),
        f"mount {source or fstype} on {target}",
    )


def unshare(flags: int) -> None:
    """``unshare(2)`` (``os.unshare`` exists from Python 3.12 only)."""
    if os.environ.get(REFUSE_ENV):
        raise SandboxError(errno.EPERM, "unshare: Operation not permitted (simulated)")
    _check(_libc.unshare(flags), "unshare")


def prctl(option: int, arg2: int = 0) -> None:
    _check(_libc.prctl(option, arg2, 0, 0, 0), f"prctl {option}")


def _syscall(index: int, *args: Any) -> int:
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        raise SandboxError(errno.ENOSYS, f"no sandbox on {platform.machine()}")
    return int(_libc.syscall(numbers[index], *args))


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_syscall(0, _b(new_root), _b(put_old)), "pivot_root")


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def drop_capabilities() -> None:
    """No capability left in any set, and none an ``execve`` could give back."""
    prctl(PR_SET_SECUREBITS, SECUREBITS)
    for cap in range(_last_capability() + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "dropping the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    _check(_syscall(1, header, data), "capset")


# -- the file system view ---------------------------------------------------------------
def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _existing(paths: list[str]) -> list[str]:
    """The absolute paths that exist, normalised (never "/": the host's root is never
    shown whole)."""
    found = (os.path.normpath(p) for p in paths if p and os.path.isabs(p))
    return [p for p in found if p != "/" and os.path.exists(p)]


def python_paths(executable: str | None = None) -> list[str]:
    """What an interpreter needs to import: its prefixes and ``sys.path`` entries.

    Without ``executable``: the running interpreter's. With it: the prefixes a kernel
    command's interpreter lives in (its directory's parent, before and after symlinks)."""
    if executable is None:
        return _existing(
            [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]
        )
    found = []
    for path in (os.path.abspath(executable), os.path.realpath(executable)):
        found.append(os.path.dirname(os.path.dirname(path)))
    return _existing(found)


#: Read-only for every sandbox: what programs and libraries need (not /home, /root,
#: /srv, /var, /mnt, /media, /opt, /sys).
SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/run/systemd/resolve",  # where /etc/resolv.conf points on systemd machines
)
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _unescape(field: str) -> str:
    """A mountinfo path field (spaces and the like are written as octal escapes)."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape").encode("latin-1").decode()


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [_unescape(line.split()[4]) for line in f]


def _locked_flags(path: str) -> int:
    """The flags of the mount at ``path`` that a remount must keep (user namespaces lock
    them); nosuid and nodev are always added."""
    flags = MS_NOSUID | MS_NODEV
    st = os.statvfs(path).f_flag
    for st_flag, ms_flag in (
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if st & st_flag:
            flags |= ms_flag
    return flags


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(source: str, target: str, *, read_only: bool) -> None:
    if os.path.isdir(source):
        _mkdirs(target)
    elif not os.path.exists(target):
        _mkdirs(os.path.dirname(target))
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(target))


def plan(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The mounts of the new root, in host paths, parents before children (so that a
    path shown inside a hidden one, the Python environment under a hidden $HOME, is
    mounted on top of its mask): ``("bind" | "mask" | "link", path)``."""
    read_only = _existing(config["read_only"])
    hidden = {os.path.normpath(p) for p in config["hidden"] if p}
    ops: set[tuple[str, str]] = set()
    for path in set(read_only):
        if path in hidden:
            continue
        real = os.path.realpath(path)
        if real != path and os.path.islink(path):
            ops.add(("link", path))
            if any(_under(real, p) for p in read_only if p != path):
                continue  # the target is shown anyway
            path = real
        ops.add(("bind", path))
    for path in hidden:
        if os.path.lexists(path) and any(_under(path, p) and path != p for p in read_only):
            ops.add(("mask", path))
    # A bind inside another one shows nothing more (the outer bind is recursive), unless
    # a mask lies between them: one mount (and its remount) less each, per run.
    masks = [path for kind, path in ops if kind == "mask"]
    binds = [path for kind, path in ops if kind == "bind" and os.path.realpath(path) == path]

    def covered(path: str, outer: str) -> bool:
        if outer == path or not _under(path, outer):
            return False
        return not any(_under(mask, outer) and _under(path, mask) for mask in masks)

    for path in binds:
        if any(covered(path, outer) for outer in binds):
            ops.discard(("bind", path))
    return sorted(ops, key=lambda op: (op[1].count("/"), op[1], op[0] != "mask"))


def build_root(config: dict[str, Any], ops: list[tuple[str, str]], old: str, new: str) -> set[str]:
    """Assemble the new root at ``new`` (a fresh tmpfs) from the host's, seen at ``old``;
    the read-write mount points (as the new root will see them)."""
    # The owner of the run's places, where it is not root of a user namespace of its own.
    chown = config.get("uid") is not None and not config.get("userns")
    uid, gid = int(config.get("uid") or 0), int(config.get("gid") or 0)
    writable = [os.path.normpath(p) for p in config["writable"]]
    # /dev: the harmless devices, a private /dev/pts.
    dev = new + "/dev"
    _mkdirs(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for name in _DEVICES:
        if os.path.exists(f"{old}/dev/{name}"):
            _bind(f"{old}/dev/{name}", f"{dev}/{name}", read_only=False)
    for name, link in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ):
        os.symlink(link, f"{dev}/{name}")
    _mkdirs(dev + "/pts")
    with contextlib.suppress(SandboxError):  # else no pseudo-terminals
        mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666")

    # One size-capped tmpfs for /tmp, /dev/shm and the working directory.
    scratch = "/scratch"
    os.mkdir(scratch)
    size = int(config.get("tmp_size") or 0)
    options = "mode=0755" + (f",size={size}" if size else "")
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, options)
    home = config.get("home") or HOME
    for name, inside, mode in (
        ("tmp", "/tmp", 0o1777),
        ("shm", "/dev/shm", 0o1777),
        ("home", home, 0o700),
    ):
        os.mkdir(f"{scratch}/{name}")
        os.chmod(f"{scratch}/{name}", mode)
        if chown:
            os.chown(f"{scratch}/{name}", uid, gid)
        _bind(f"{scratch}/{name}", new + inside, read_only=False)
    _check(_libc.umount2(_b(scratch), MNT_DETACH), "umount scratch")

    # The read-only paths last: one inside /tmp (a virtual environment there) is then
    # mounted on top of the private /tmp, not covered by it.
    for kind, path in ops:
        target = new + path
        if kind == "link":
            if not os.path.lexists(target):
                _mkdirs(os.path.dirname(target))
                os.symlink(os.readlink(old + path), target)
        elif kind == "bind":
            if not os.path.islink(target):
                _bind(old + path, target, read_only=True)
        elif not os.path.lexists(target):
            continue  # not in the new root (covered by the private /tmp): nothing to mask
        elif os.path.isdir(old + path):  # mask a directory
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        else:  # mask a file
            mount(old + "/dev/null", target, None, MS_BIND)

    for path in writable:
        if not os.path.isdir(old + path):
            raise FileNotFoundError(errno.ENOENT, "the run's directory is gone", path)
        if chown:
            for root, _, files in os.walk(old + path):
                os.chown(root, uid, gid)
                for name in files:
                    os.chown(os.path.join(root, name), uid, gid)
        _bind(old + path, new + path, read_only=False)

    _mkdirs(new + "/proc")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    return {"/tmp", "/dev/shm", home, "/dev/pts", *writable} | {f"/dev/{d}" for d in _DEVICES}


def _enter_root(config: dict[str, Any]) -> None:
    """Make the new root the root, and every mount of it read-only but the writable ones.

    As bubblewrap does: pivot into a scratch tmpfs first (the host's root then at
    ``/oldroot``, so that no host path is covered while the new root is assembled),
    build the new root at ``/newroot``, drop the old one, pivot into the new."""
    ops = plan(config)  # host paths are resolved before anything moves
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    base = "/tmp"  # of this mount namespace only
    mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.mkdir(base + "/oldroot")
    os.mkdir(base + "/newroot")
    pivot_root(base, base + "/oldroot")
    os.chdir("/")
    mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    writable = build_root(config, ops, "/oldroot", "/newroot")
    _check(_libc.umount2(b"/oldroot", MNT_DETACH), "umount the old root")
    os.chdir("/newroot")
    pivot_root(".", ".")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the scratch root")
    os.chdir("/")
    for point in reversed(_mount_points()):
        if point == "/proc" or point.startswith("/proc/") or point in writable:
            continue
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(point))
        except (SandboxError, FileNotFoundError):
            if point == "/":
                raise


def _set_limits(config: dict[str, Any]) -> None:
    def limit(which: int, value: int) -> None:
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    limit(resource.RLIMIT_CORE, 0)
    if config.get("file_size"):
        limit(resource.RLIMIT_FSIZE, int(config["file_size"]))
    if not config.get("cgroups"):
        # No cgroup: the kernel's own limits. Address space for memory (the closest
        # per-process measure), and processes (threads included) per user — counted
        # in the run's own user namespace when there is one.
        if config.get("memory"):
            limit(resource.RLIMIT_AS, int(config["memory"]))
        if config.get("processes") and config.get("userns"):
            limit(resource.RLIMIT_NPROC, int(config["processes"]))


def _drop_privileges(config: dict[str, Any]) -> None:
    if config.get("userns"):
        drop_capabilities()
    else:
        uid, gid = int(config["uid"]), int(config["gid"])
        for cap in range(_last_capability() + 1):
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # from root to another uid: every capability goes
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def _loopback_up() -> None:
    """Bring ``lo`` up in a new network namespace (the only interface it has)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0x1 | 0x40, b"")  # IFF_UP | IFF_RUNNING
        fcntl.ioctl(s.fileno(), 0x8914, request)  # SIOCSIFFLAGS


def _join_cgroups(paths: list[str]) -> None:
    for path in paths:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write("0")  # "0": the writing process


def _write_id_maps() -> None:
    uid, gid = os.geteuid(), os.getegid()
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def namespaces(config: dict[str, Any]) -> int:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
    if config.get("userns"):
        flags |= CLONE_NEWUSER
    if not config.get("network", True):
        flags |= CLONE_NEWNET
    return flags


def _lifeline_closed(lifeline_fd: int) -> bool:
    """Whether the readable lifeline reads EOF (the server, its only writer, is gone)."""
    try:
        return not os.read(lifeline_fd, 1)
    except OSError:
        return True


def _supervise(child: int, lifeline_fd: int | None) -> int:
    """Wait for the namespace's init; kill it if the server goes away. Its exit code."""
    pidfd = os.pidfd_open(child)
    watched = [pidfd] + ([lifeline_fd] if lifeline_fd is not None else [])
    while True:
        try:
            readable, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if lifeline_fd in readable and _lifeline_closed(lifeline_fd):
            os.kill(child, signal.SIGKILL)
            watched.remove(lifeline_fd)
        if pidfd in readable:
            _, status = os.waitpid(child, 0)
            return os.waitstatus_to_exitcode(status)


def _init(kernel: int, lifeline_fd: int | None = None) -> int:
    """PID 1 of the namespace: reap every process until the kernel exits (its exit
    code then), or until the lifeline reads EOF (the server is gone: 137, and the Linux
    kernel kills everything left in the namespace as this process exits)."""
    if lifeline_fd is None:
        return _reap_until(kernel, block=True) or 0
    # SIGCHLD wakes the select through the wakeup pipe (the handler does nothing).
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    while True:
        code = _reap_until(kernel, block=False)  # (after the handler: no exit is missed)
        if code is not None:
            return code
        try:
            readable, _, _ = select.select([wake_r, lifeline_fd], [], [])
        except InterruptedError:
            continue
        if lifeline_fd in readable and _lifeline_closed(lifeline_fd):
            return 137
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass


def _reap_until(kernel: int, *, block: bool) -> int | None:
    """Reap exited processes; the kernel's exit code once it is reaped, else None (only
    when not blocking: blocking, this waits for the kernel)."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1
        if pid == 0:
            return None
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def enter(config: dict[str, Any], lifeline_fd: int | None = None) -> None:
    """Become a sandboxed process (see the module's doc); returns in the kernel only.

    Must be called by a single-threaded process. Raises :class:`SandboxError` (or
    ``OSError``) in the calling process if the namespaces cannot be made; a failure
    later (in the namespace's init) ends the process tree with :data:`SETUP_FAILED`."""
    _join_cgroups(config.get("cgroups") or [])
    unshare(namespaces(config))
    if config.get("userns"):
        _write_id_maps()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os._exit(_supervise(pid, lifeline_fd))
    # The namespace's init.
    if lifeline_fd is not None:
        os.close(lifeline_fd)
    _become_init(config, None)


def fork_init() -> int:
    """``os.fork()`` into a new PID namespace: the child is its PID 1 (0 returned there).

    The fork server's way to sandbox a kernel when it is root: the child it forks is
    the namespace's init at once, so no supervisor process stands between them (one fork
    of the zygote's large image less per run). ``unshare(CLONE_NEWPID)`` applies to the
    caller's next child only until it is undone: the caller goes back to its own PID
    namespace for its later children right after the fork."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    pid, restored = -1, 0
    try:
        unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        finally:
            if pid != 0:  # the caller's next children are born in its own namespace again
                restored = _libc.setns(own, CLONE_NEWPID)
    finally:
        os.close(own)
    if restored != 0:
        if pid > 0:
            os.kill(pid, signal.SIGKILL)
        _check(restored, "setns back to the own PID namespace")
    return pid


def enter_init(config: dict[str, Any], lifeline_fd: int | None) -> None:
    """:func:`enter` for PID 1 of a new PID namespace (a child of :func:`fork_init`):
    the same sandbox, without a supervisor; this process is the namespace's init and
    watches the lifeline itself. Returns in the kernel only (PID 2); for the root path
    only (no user namespace: a user namespace would have to come before the PID one).

    Raises in this process if the namespaces cannot be made; a failure later ends it
    with :data:`SETUP_FAILED`."""
    if os.getpid() != 1 or config.get("userns"):
        raise SandboxError(errno.EINVAL, "enter_init: not PID 1 of a new PID namespace as root")
    _join_cgroups(config.get("cgroups") or [])
    unshare(namespaces(config) & ~CLONE_NEWPID)
    _become_init(config, lifeline_fd)


def _become_init(config: dict[str, Any], lifeline_fd: int | None) -> None:
    """As PID 1 of the run's namespaces: build the file system view, set the limits,
    drop every privilege, fork the kernel (for which this returns) and reap until it
    exits — or until the lifeline closes, when one is given."""
    try:
        _enter_root(config)
        if not config.get("network", True):
            _loopback_up()
        _set_limits(config)
        _drop_privileges(config)
        if lifeline_fd is None:
            # The supervisor's init dies with it (after the uid change, which clears
            # this). An init forked by the zygote outlives the zygote: the lifeline ties
            # it to the server, and a zygote that dies must not take live runs with it.
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        home = config.get("home") or HOME
        os.chdir(home)
    except BaseException as e:
        print(f"jupyter_scripting sandbox: {e}", file=sys.stderr, flush=True)
        os._exit(SETUP_FAILED)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os._exit(_init(pid, lifeline_fd))
    if lifeline_fd is not None:
        os.close(lifeline_fd)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn_command(cmd: list[str], config: dict[str, Any]) -> list[str]:
    """The command that runs ``cmd`` in a sandbox (the spawn path's launcher)."""
    launcher = os.path.abspath(__file__)
    return [sys.executable, "-I", launcher, "--exec", json.dumps(config), "--", *cmd]


def probe(config: dict[str, Any]) -> None:
    """Check, in the sandbox just entered, that it is what it should be (exit 0 if so)."""
    problems = []
    if os.getpid() != 2:
        problems.append(f"pid {os.getpid()}, not 2")
    others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 2]
    if others:
        problems.append(f"/proc lists other processes: {others}")
    shown = config["read_only"]
    for path in config["hidden"]:
        if not path or not os.path.isdir(path):
            continue
        # A hidden directory may hold the way to a shown path (the Python environment
        # under a hidden $HOME), nothing else.
        for name in os.listdir(path):
            inner = os.path.join(path, name)
            if not any(_under(p, inner) for p in shown):
                problems.append(f"{inner} is visible")
    try:
        open("/usr/.jupyter-scripting-probe", "w").close()
        problems.append("/usr is writable")
    except OSError:
        pass
    if problems:
        print("; ".join(problems), file=sys.stderr)
        os._exit(1)
    os._exit(0)


def main(argv: list[str]) -> None:
    """``sandbox.py --exec CONFIG -- COMMAND...`` or ``sandbox.py --probe CONFIG``."""
    mode, config = argv[0], json.loads(argv[1])
    # Spawned by the server: die with it. (The kernel's own parent poller cannot
    # watch the server from inside the PID namespace: see JPY_PARENT_PID below.)
    server = int(os.environ.get("JPY_PARENT_PID") or 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if server > 1 and os.getppid() != server:
        sys.exit(SETUP_FAILED)
    os.environ["JPY_PARENT_PID"] = "1"  # "1": no parent poller (its parent is PID 1)
    try:
        if mode == "--exec":
            config["read_only"] = list(config["read_only"]) + python_paths(argv[3])
        else:
            config["read_only"] = list(config["read_only"]) + python_paths()
        enter(config)
    except OSError as e:
        print(f"jupyter_scripting sandbox: {e}", file=sys.stderr, flush=True)
        sys.exit(SETUP_FAILED)
    if mode == "--probe":
        probe(config)
    command = argv[3:]
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print(f"jupyter_scripting sandbox: cannot run {command[0]}: {e}", file=sys.stderr)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
