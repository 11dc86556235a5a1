"""`make bench-floor`: what a run costs below the server, part by part.

``make bench`` measures whole runs over HTTP. This measures the parts a run is made of,
without HTTP and without the store, to show how much of a run's CPU is left once the
server's own work is taken away:

* **a forked kernel, step by step**, in a minimal zygote built with the project's own
  zygote code (``prepare``, ``_start_prebuilt``; no sandbox): a fork that
  exits at once; a fork that sets the pre-built kernel up (sockets, threads, kernel
  object) and exits; a fork that sets it up, answers what a run asks of its kernel
  (``kernel_info``, the warm-up ``pass``, the silent hand-over with ``user_expressions``,
  the hello cell with the read-back) and is killed. Each child's CPU time (all of it and,
  of it, the part spent in the Linux kernel) and its minor page faults, from ``wait4``.
  The same requests on a kernel that stays up (Kernel Gateway's model) are the reference
  (a mean over the runs: ``/proc`` counts in clock ticks).
* **the run path without HTTP and store**: the project's ``Runner`` on its
  ``KernelProvider`` (fork server, no pool), sandbox off and on, the hello notebook run
  sequentially: CPU per run of this process (the runner's side: kernel manager and
  client, ZeroMQ, nbclient), of the zygote and its children (reaped ones included), and
  of the whole machine.

Figures are medians over ``--runs`` (p95 beside them). The difference between
``make bench``'s server CPU per run and this runner-side figure is what HTTP, the API
key check and the two store transactions cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402
    HELLO,
    machine_busy_seconds,
    own_cpu_seconds,
    percentile,
    tree_cpu_seconds,
)

#: The minimal zygote: the project's zygote module, loaded by path as the real one is.
ZYGOTE = r"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("_floor_zygote", sys.argv[1])
Z = importlib.util.module_from_spec(spec)
spec.loader.exec_module(Z)
os.environ["JPY_PARENT_PID"] = "1"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
Z.prepare()
out = sys.stdout
for line in sys.stdin:
    request = json.loads(line)
    if "reap" in request:
        _, _, usage = os.wait4(request["reap"], 0)
        out.write(json.dumps({
            "cpu": usage.ru_utime + usage.ru_stime,
            "sys": usage.ru_stime,
            "faults": usage.ru_minflt,
        }) + "\n")
        out.flush()
        continue
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if request["step"] != "exit":
                os.chdir(request["cwd"])
                os.environ.clear()
                os.environ.update(request["env"])
                os.environ["JPY_PARENT_PID"] = "1"
                sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
                app = Z._start_prebuilt(request["connection_file"])
                if request["step"] == "run":
                    app.start()
        except BaseException:
            import traceback
            traceback.print_exc()
        os._exit(0)
    out.write(json.dumps({"pid": pid}) + "\n")
    out.flush()
"""

#: What a run asks of its kernel, as the runner sends it (the hand-over is smaller here).
HANDOVER = {"install": "(lambda: 'ok')()"}
READBACK = {"response": "repr({'status': 200})"}
CELL = 'name = "John Smith"\nprint(f"Hello {name}!")'


def run_requests(kc: Any) -> None:
    """The requests of one run after the kernel is ready: warm-up, hand-over, cell."""
    for code, kwargs in (
        ("pass", {"store_history": False}),
        ("", {"silent": True, "store_history": False, "user_expressions": HANDOVER}),
        (CELL, {"user_expressions": READBACK}),
    ):
        msg_id = kc.execute(code, **kwargs)
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id, reply
        while True:  # until its IOPub idle: all its output is in
            msg = kc.get_iopub_msg(timeout=30)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break


class Zygote:
    def __init__(self) -> None:
        path = ROOT / "jupyter_scripting" / "execution" / "zygote.py"
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def kernel_files(work: Path) -> tuple[str, dict[str, str]]:
    from jupyter_client.connect import write_connection_file

    runtime = tempfile.mkdtemp(dir=work)
    connection_file = os.path.join(runtime, "kernel.json")
    write_connection_file(connection_file, transport="ipc", ip=os.path.join(runtime, "ipc"))
    env = {**os.environ, "IPYTHONDIR": os.path.join(runtime, "ipython")}
    return connection_file, env


def client_of(connection_file: str) -> Any:
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels(hb=False, stdin=False)
    kc.wait_for_ready(timeout=30)
    return kc


def forked_steps(runs: int, work: Path) -> list[tuple[str, list[dict[str, float]]]]:
    zygote = Zygote()
    rows: list[tuple[str, list[dict[str, float]]]] = []
    try:
        for step, label in (
            ("exit", "fork + exit (the zygote's image)"),
            ("setup", "fork + kernel set-up + exit"),
            ("run", "fork + set-up + a run's requests + kill"),
        ):
            samples = []
            for _ in range(runs):
                connection_file, env = kernel_files(work)
                request = {
                    "step": step,
                    "cwd": os.path.dirname(connection_file),
                    "env": env,
                    "connection_file": connection_file,
                }
                pid = zygote.ask(request)["pid"]
                if step == "run":
                    kc = client_of(connection_file)
                    run_requests(kc)
                    kc.stop_channels()
                    os.kill(pid, signal.SIGKILL)
                samples.append(zygote.ask({"reap": pid}))
            rows.append((label, samples))
        # The reference: the same requests on one kernel that stays up.
        connection_file, env = kernel_files(work)
        pid = zygote.ask(
            {
                "step": "run",
                "cwd": os.path.dirname(connection_file),
                "env": env,
                "connection_file": connection_file,
            }
        )["pid"]
        kc = client_of(connection_file)
        run_requests(kc)  # its first run pays for the kernel's first use
        # /proc counts CPU time in clock ticks: the mean over all the runs, not one each.
        kernel = psutil.Process(pid)
        before = kernel.cpu_times()
        for _ in range(runs):
            run_requests(kc)
        after = kernel.cpu_times()
        mean = {
            "cpu": (after.user + after.system - before.user - before.system) / runs,
            "sys": (after.system - before.system) / runs,
            "faults": float("nan"),
        }
        samples = [mean]
        kc.stop_channels()
        os.kill(pid, signal.SIGKILL)
        zygote.ask({"reap": pid})
        rows.append(("the same requests, kernel kept up (reference)", samples))
    finally:
        zygote.close()
    return rows


async def run_path(runs: int, sandbox_mode: str, work: Path) -> dict[str, float]:
    """CPU per run of the runner's side, the kernels' and the machine's (seconds)."""
    from jupyter_scripting.app import ScriptingApp
    from jupyter_scripting.execution.kernels import KernelProvider
    from jupyter_scripting.execution.runner import Runner, RunRequest
    from jupyter_scripting.execution.sandbox_policy import Limits, Sandbox

    traits = ScriptingApp.class_traits()
    limits = Limits(**{name: traits[name].default_value for name in Limits.__dataclass_fields__})
    log = logging.getLogger("floor")
    log.setLevel(logging.ERROR)  # not the "sandbox is off" warning
    sandbox = Sandbox(mode=sandbox_mode, limits=limits, log=log)
    sandbox.start()
    if sandbox_mode == "required" and not sandbox.active:
        raise SystemExit(f"no sandbox here: {sandbox.reason}")
    kernels = KernelProvider(fork_kernelspecs=["python3"], sandbox=sandbox, log=log)
    runner = Runner(kernels=kernels, log=log)
    notebook = HELLO.read_text()
    body = json.dumps({"name": "John Smith"}).encode()

    def request() -> RunRequest:
        return RunRequest("POST", "/run", {}, [("Content-Type", "application/json")], body)

    async def one(index: int) -> None:
        outcome = await runner.run(notebook, request(), execution_id=f"floor-{index}", timeout=60)
        body_out = getattr(getattr(outcome, "answer", None), "body", b"")
        if b"Hello John Smith!" not in body_out:
            raise RuntimeError(f"run {index}: {outcome}")
        await asyncio.gather(*kernels._cleanups)

    for index in range(5):  # the zygote starts; first uses
        await one(index)
    me = psutil.Process()
    zygotes = [p for p in me.children() if any("zygote.py" in a for a in p.cmdline())]

    def zygote_tree() -> float:
        return sum(tree_cpu_seconds(z.pid) for z in zygotes)

    own, tree, machine = own_cpu_seconds(), zygote_tree(), machine_busy_seconds()
    started = time.perf_counter()
    for index in range(runs):
        await one(100 + index)
    elapsed = time.perf_counter() - started
    figures = {
        "runner": (own_cpu_seconds() - own) / runs,
        "zygote and kernels": (zygote_tree() - tree) / runs,
        "latency": elapsed / runs,
    }
    after = machine_busy_seconds()
    if machine is not None and after is not None:
        figures["machine"] = (after - machine) / runs
    await kernels.shutdown()  # (the zygotes too)
    return figures


def stat(values: list[float], scale: float = 1000.0) -> str:
    clean = [v for v in values if v == v]  # no NaN
    if not clean:
        return "-"
    p95 = percentile(clean, 95)
    assert p95 is not None
    return f"{statistics.median(clean) * scale:.1f} ({p95 * scale:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="samples per row")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="floor-", dir="/dev/shm") as name:
        work = Path(name)
        print("A forked kernel, step by step (no server, no sandbox); ms, median (p95):\n")
        print("| step | CPU ms | of it in the Linux kernel | minor faults |")
        print("|---|---|---|---|")
        for label, samples in forked_steps(args.runs, work):
            print(
                f"| {label} | {stat([s['cpu'] for s in samples])} "
                f"| {stat([s['sys'] for s in samples])} "
                f"| {stat([s['faults'] for s in samples], 1.0)} |"
            )
        print("\nThe run path without HTTP and store (Runner, fork server, no pool); per run:\n")
        print("| sandbox | runner's side ms | zygote + kernels ms | machine ms | latency ms |")
        print("|---|---|---|---|---|")
        for mode in ("off", "required"):
            figures = asyncio.run(run_path(args.runs, mode, work))
            print(
                f"| {'on' if mode == 'required' else 'off'} "
                f"| {figures['runner'] * 1000:.1f} "
                f"| {figures['zygote and kernels'] * 1000:.1f} "
                f"| {figures.get('machine', float('nan')) * 1000:.1f} "
                f"| {figures['latency'] * 1000:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
