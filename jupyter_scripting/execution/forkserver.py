"""The fork server: fresh ipykernel processes forked from a zygote instead of spawned.

Spawning an ipykernel costs ~0.5 s of CPU, most of it importing the kernel stack.
A :class:`ForkServer` keeps one zygote process per Python executable (see
:mod:`.zygote`) that has done those imports once; each kernel is a child forked from
it, so it starts in tens of milliseconds and still is a process that no earlier run
touched (the zygote never runs user code).

:class:`ForkServerProvisioner` is a jupyter_client kernel provisioner (entry point
``jupyter-scripting-forkserver``) selected per kernelspec, through the kernelspec's
``metadata.kernel_provisioner`` or ``ScriptingApp.fork_kernelspecs``. Kernelspecs it
cannot fork (anything that is not ``PYTHON -m ipykernel_launcher``/``ipykernel``), and
Pythons where the zygote cannot start, are spawned as jupyter_client's
``LocalProvisioner`` would.

The zygote starts with the scrubbed environment and a lifeline pipe whose only writer
is this process: if the server dies, zygote and forked kernels die with it. A zygote
that dies is started again on the next request, and requests it had not answered are
retried once on the new one. :meth:`ForkServer.stop_all` stops the zygotes (the server
calls it on shutdown; forked kernels are killed by their own managers).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
from typing import Any, ClassVar

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from ..credentials import CREDENTIAL_NAMES
from . import sandbox

#: The entry-point name of :class:`ForkServerProvisioner` (group
#: ``jupyter_client.kernel_provisioners``).
PROVISIONER_NAME = "jupyter-scripting-forkserver"


log = logging.getLogger(__name__)


#: The zygote runs as a script, not as ``-m jupyter_scripting...``: a kernel forked from it
#: must not find this package (nor its directory on ``sys.path``) imported, exactly like a
#: spawned kernel.
_ZYGOTE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")
_BOOTSTRAP = (
    "import runpy, sys; del sys.path[0]; path = sys.argv.pop(1); "
    "runpy.run_path(path, run_name='__main__')"
)


class ForkFailed(RuntimeError):
    """The zygote could not fork a kernel."""


class ZygoteDied(ForkFailed):
    """The zygote exited before answering."""


def forkable_argv(cmd: list[str]) -> list[str] | None:
    """The ipykernel arguments of a kernel command, or None if it cannot be forked."""
    if len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] in ("ipykernel_launcher", "ipykernel"):
        return list(cmd[3:])
    return None


class ForkServer:
    """One zygote process for one Python executable, and the requests sent to it."""

    _servers: ClassVar[dict[str, ForkServer]] = {}
    _lifeline: ClassVar[tuple[int, int] | None] = None

    #: Seconds the zygote may take to import the kernel stack.
    startup_timeout: float = 60.0
    #: Seconds a fork request may wait for its answer.
    fork_timeout: float = 30.0

    def __init__(self, python: str) -> None:
        self.python = python
        self.pid: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._reaping: set[asyncio.Future[int]] = set()
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.starts = 0

    @classmethod
    def for_python(cls, python: str) -> ForkServer:
        """The fork server of ``python`` (created on first use)."""
        server = cls._servers.get(python)
        if server is None:
            server = cls._servers[python] = cls(python)
        return server

    @classmethod
    def servers(cls) -> list[ForkServer]:
        return list(cls._servers.values())

    @classmethod
    def lifeline(cls) -> int:
        """The read end of this process's lifeline (its write end is never written)."""
        if cls._lifeline is None:
            cls._lifeline = os.pipe()  # both ends non-inheritable by default (PEP 446)
        return cls._lifeline[0]

    @property
    def alive(self) -> bool:
        return (
            self._proc is not None
            and self._writer is not None  # (None while a restart stops the process)
            and self._proc.returncode is None
            and self._reader_task is not None
            and not self._reader_task.done()
        )

    async def fork(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        sandbox: dict[str, Any] | None = None,
    ) -> int:
        """Fork a kernel running ``ipykernel_launcher ARGV`` (in ``sandbox``); its pid."""
        for attempt in (1, 2):
            await self._ensure_started(env)
            generation = self.starts
            try:
                request = {"argv": argv, "env": env, "cwd": cwd, "sandbox": sandbox}
                return await self._request(request)
            except ZygoteDied:
                async with self._lock:
                    if self.starts == generation:  # nobody restarted it yet
                        log.warning("The kernel zygote of %s died; starting another", self.python)
                        await self._stop_process()
                if attempt == 2:
                    raise
        raise AssertionError("not reached")

    async def _ensure_started(self, env: dict[str, str]) -> None:
        self._bind_loop()
        if self.alive:
            return
        async with self._lock:
            if self.alive:
                return
            await self._stop_process()
            await self._start(env)

    def _bind_loop(self) -> None:
        """Forget a zygote talked to from another (finished) event loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self.kill_now()
        self._proc = self._writer = self._reader_task = None
        self.pid = None
        self._pending.clear()
        self._lock = asyncio.Lock()
        self._loop = loop

    async def _start(self, env: dict[str, str]) -> None:
        # Never the variables named for credentials, whatever the kernel manager passes
        # (each child gets exactly its own manager's environment).
        zygote_env = {k: v for k, v in env.items() if not CREDENTIAL_NAMES.search(k)}
        ours, theirs = socket.socketpair()
        lifeline = self.lifeline()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.python,
                "-c",
                _BOOTSTRAP,
                _ZYGOTE_PATH,
                str(theirs.fileno()),
                str(lifeline),
                stdin=subprocess.DEVNULL,
                env=zygote_env,
                pass_fds=(theirs.fileno(), lifeline),
                start_new_session=True,  # not in the terminal's group: Ctrl+C is the server's
                cwd="/",
            )
        finally:
            theirs.close()
        self.starts += 1
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        try:
            hello = await asyncio.wait_for(reader.readline(), self.startup_timeout)
            if not json.loads(hello or b"{}").get("ready"):
                raise ForkFailed(f"the kernel zygote of {self.python} did not start")
        except Exception:
            await self._stop_process()
            raise
        self.pid = self._proc.pid
        self._reader_task = asyncio.ensure_future(self._read_answers(reader))
        log.debug("Kernel zygote %s of %s ready", self.pid, self.python)

    async def _request(self, request: dict[str, Any]) -> int:
        if self._writer is None:  # another request's restart is stopping the process
            raise ZygoteDied("the kernel zygote is being restarted")
        request_id = next(self._ids)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(json.dumps({"id": request_id, **request}).encode() + b"\n")
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as e:
            self._pending.pop(request_id, None)
            raise ZygoteDied(str(e)) from e
        try:
            return await asyncio.wait_for(future, self.fork_timeout)
        finally:
            self._pending.pop(request_id, None)

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                answer = json.loads(line)
                future = self._pending.get(answer.get("id"))
                if future is None or future.done():
                    continue
                if "pid" in answer:
                    future.set_result(int(answer["pid"]))
                else:
                    future.set_exception(ForkFailed(answer.get("error", "fork failed")))
        except (ConnectionError, ValueError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ZygoteDied("the kernel zygote exited"))

    async def _stop_process(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reader_task
            self._reader_task = None
        proc, self._proc, self.pid = self._proc, None, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            # Reaped even if the caller is cancelled meanwhile (a run's deadline during a
            # restart): else the killed zygote would stay a zombie with an open transport.
            reaped = asyncio.ensure_future(proc.wait())
            self._reaping.add(reaped)
            reaped.add_done_callback(self._reaping.discard)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(reaped), 5)

    async def stop(self) -> None:
        """Stop the zygote (kernels forked from it are not touched)."""
        async with self._lock:
            await self._stop_process()

    @classmethod
    async def stop_all(cls) -> None:
        """Stop every zygote of this process."""
        await asyncio.gather(*(server.stop() for server in cls.servers()))

    def kill_now(self) -> None:
        """Kill the zygote without an event loop (at interpreter exit)."""
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)


@atexit.register
def _kill_zygotes() -> None:
    for server in ForkServer.servers():
        server.kill_now()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ForkServerProvisioner(LocalProvisioner):
    """Forks ipykernel kernels from a :class:`ForkServer`; spawns other kernelspecs."""

    _forked_pid: int | None = None
    _pidfd: int | None = None
    _exit_code: int | None = None

    @property
    def has_process(self) -> bool:
        return self._forked_pid is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        # Given by KernelProvider through the kernel manager's start_kernel(): the
        # kernel's sandbox (or None), and whether it is to be forked at all.
        sandbox_config = kwargs.pop("sandbox", None)
        argv = forkable_argv(cmd) if kwargs.pop("fork", True) else None
        if argv is None:
            return await self._spawn(cmd, sandbox_config, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        # jupyter_client already made "python"/"python3.X" this interpreter; another bare
        # name is the one on PATH, as spawning it would find (one zygote per interpreter).
        python = cmd[0] if os.path.isabs(cmd[0]) else (shutil.which(cmd[0]) or cmd[0])
        try:
            pid = await ForkServer.for_python(python).fork(argv, env, cwd, sandbox_config)
        except ForkFailed as e:
            self.log.warning("Could not fork a kernel (%s); spawning one instead", e)
            return await self._spawn(cmd, sandbox_config, **kwargs)
        self._forked_pid = self.pid = self.pgid = pid
        self._exit_code = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None  # no pidfd (old kernel) or already gone: poll by pid
        self.cwd = cwd
        return self.connection_info

    async def _spawn(
        self, cmd: list[str], sandbox_config: dict[str, Any] | None, **kwargs: Any
    ) -> KernelConnectionInfo:
        """Start the kernel as a new process, as LocalProvisioner does (in its sandbox)."""
        if sandbox_config:
            cmd = sandbox.spawn_command(cmd, sandbox_config)
            kwargs["cwd"] = "/"  # the launcher changes to the sandbox's working directory
        return await super().launch_kernel(cmd, **kwargs)

    def _forked_exit_code(self) -> int | None:
        """None while the forked kernel runs; its (unknown: -9 or 0) code once gone."""
        if self._exit_code is not None:
            return self._exit_code
        assert self._forked_pid is not None
        if self._pidfd is not None:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            gone = bool(readable)
        else:
            try:
                os.kill(self._forked_pid, 0)
                gone = False
            except ProcessLookupError:
                gone = True
            except PermissionError:
                gone = False
        if gone:
            self._exit_code = -signal.SIGKILL
        return self._exit_code

    async def poll(self) -> int | None:
        if self._forked_pid is None:
            return await super().poll()
        return self._forked_exit_code()

    async def wait(self) -> int | None:
        if self._forked_pid is None:
            return await super().wait()
        if self._forked_exit_code() is None:
            if self._pidfd is not None:
                # A pidfd turns readable when the process exits.
                loop = asyncio.get_running_loop()
                exited = loop.create_future()
                loop.add_reader(self._pidfd, _resolve, exited)
                try:
                    await exited
                finally:
                    loop.remove_reader(self._pidfd)
            else:
                while self._forked_exit_code() is None:  # noqa: ASYNC110 - no pidfd to wait on
                    await asyncio.sleep(0.01)
        code = self._forked_exit_code()
        self._close_pidfd()
        self._forked_pid = None
        return code

    async def send_signal(self, signum: int) -> None:
        if self._forked_pid is None:
            return await super().send_signal(signum)
        if self._forked_exit_code() is not None:
            return None
        try:
            os.killpg(self._forked_pid, signum)  # the kernel and what it started
        except ProcessLookupError:
            pass
        except OSError:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signum)
        return None

    async def kill(self, restart: bool = False) -> None:
        if self._forked_pid is None:
            return await super().kill(restart)
        await self.send_signal(signal.SIGKILL)
        return None

    async def terminate(self, restart: bool = False) -> None:
        if self._forked_pid is None:
            return await super().terminate(restart)
        await self.send_signal(signal.SIGTERM)
        return None

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = None

    async def cleanup(self, restart: bool = False) -> None:
        self._close_pidfd()
        await super().cleanup(restart)

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info["forked"] = self._forked_pid is not None
        return info
