"""`make bench`: jupyter_scripting against Kernel Gateway's notebook-http mode and papermill.

One run, one machine, loopback only, the same hello script everywhere ("Hello John Smith!"
from a JSON body). For each system:

* sequential latency: ``--sequential`` requests one after another (after a warm-up),
  p50 and p95 of the whole HTTP exchange as the client sees it;
* throughput at concurrency 10: ``--concurrent`` requests from 10 client threads,
  runs per second over the whole batch (and its p50/p95);
* CPU per run: CPU time of the system's processes (server, zygote, kernels; reaped
  ones included) during the concurrent batch, divided by the runs (the benchmark
  client's own CPU is not counted);
* USS per idle pooled kernel: unique memory of each warm kernel (its whole process tree:
  with the sandbox, its namespace's init too) waiting for a run.

Systems: jupyter_scripting with the fork-server pool (the default), with a pool of spawned
kernels, forking without a pool, and spawning a kernel per run; Kernel Gateway
notebook-http with 1 and 4 prespawned kernels (shared kernels: every request of a kernel
sees what earlier requests left); the papermill CLI (a process and a kernel per run).
Kernel Gateway and papermill come from the interpreter given by ``--reference-python``
(``make bench`` makes that environment; neither is a dependency of the project).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HELLO = ROOT / "examples" / "hello.ipynb"
TOKEN = "bench-token"
BODY = json.dumps({"name": "John Smith"}).encode()
EXPECTED = b"Hello John Smith!"
CONCURRENCY = 10

#: The same script for Kernel Gateway: notebook-http runs the annotated cell per request
#: with the request as the JSON string ``REQUEST``; its stdout is the answer.
KG_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "import json",
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "# POST /hello\n"
            'name = json.loads(REQUEST)["body"]["name"]\n'
            'print(f"Hello {name}!")',
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

#: ... and for papermill: a parameters cell, then the script's cell.
PAPERMILL_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": 'name = "nobody"',
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": 'print(f"Hello {name}!")',
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclass
class Result:
    system: str
    mode: str
    latencies: list[float] = field(default_factory=list)  # sequential, seconds
    concurrent_latencies: list[float] = field(default_factory=list)
    throughput: float | None = None  # runs per second at concurrency 10
    cpu_per_run: float | None = None  # seconds, the system's process tree
    #: Seconds of CPU per run the whole machine spent, this benchmark's client excluded.
    machine_cpu_per_run: float | None = None
    #: CPU seconds per run by part (jupyter_scripting only: see ``cpu_split``).
    cpu_parts: dict[str, float] = field(default_factory=dict)
    uss: float | None = None  # bytes per idle pooled kernel
    errors: int = 0
    note: str = ""

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies, 95)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants, those already reaped included."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _own_and_reaped(process: psutil.Process) -> tuple[float, float]:
    times = process.cpu_times()
    return times.user + times.system, times.children_user + times.children_system


def cpu_split(pid: int) -> dict[str, float]:
    """CPU time of jupyter_scripting's processes, by part: the server itself; the zygote
    itself; the kernels with their sandboxes (the zygote's descendants, live and reaped;
    kernels the server spawned and reaped count here too)."""
    parts = {"server": 0.0, "zygote": 0.0, "kernels": 0.0}
    try:
        root = psutil.Process(pid)
        own, reaped = _own_and_reaped(root)
        parts["server"], parts["kernels"] = own, reaped
        for child in root.children():
            with contextlib.suppress(psutil.Error):
                own, reaped = _own_and_reaped(child)
                zygote = any("zygote.py" in part for part in child.cmdline())
                parts["zygote" if zygote else "kernels"] += own
                parts["kernels"] += reaped
                for process in child.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        parts["kernels"] += sum(_own_and_reaped(process))
    except psutil.Error:
        pass
    return parts


def machine_busy_seconds() -> float | None:
    """CPU time all the machine's CPUs spent busy so far (``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process (the benchmark's client threads), children excluded."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time of this process's reaped children and theirs (papermill and its kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Client:
    """Keep-alive HTTP client; one per thread."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.port, self.path, self.headers = port, path, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self) -> float:
        started = time.perf_counter()
        self.connection.request("POST", self.path, BODY, self.headers)
        answer = self.connection.getresponse()
        body = answer.read()
        elapsed = time.perf_counter() - started
        if answer.status != 200 or EXPECTED not in body:
            raise RuntimeError(f"{answer.status}: {body[:200]!r}")
        return elapsed

    def close(self) -> None:
        self.connection.close()


def measure_http(
    result: Result,
    pid: int,
    port: int,
    path: str,
    headers: dict[str, str],
    sequential: int,
    concurrent: int,
    warmup: int,
    pause: float,
) -> None:
    client = Client(port, path, headers)
    for _ in range(warmup):
        client.call()
    for _ in range(sequential):
        if pause:
            time.sleep(pause)
        try:
            result.latencies.append(client.call())
        except RuntimeError as e:
            result.errors += 1
            result.note = str(e)[:80]
            client.close()
            client = Client(port, path, headers)
    client.close()
    time.sleep(1.0)  # let pools refill before the burst
    before = cpu_split(pid)
    result.throughput, result.cpu_per_run = run_concurrently(
        lambda: Client(port, path, headers),
        concurrent,
        result,
        lambda: tree_cpu_seconds(pid),
    )
    after = cpu_split(pid)
    done = max(1, len(result.concurrent_latencies))
    result.cpu_parts = {part: (after[part] - before[part]) / done for part in after}


def run_concurrently(
    make_client: Callable[[], Any], total: int, result: Result, cpu: Callable[[], float]
) -> tuple[float, float]:
    """Runs ``total`` calls from CONCURRENCY threads; (runs per second, CPU s per run),
    the CPU as ``cpu()`` counts it (the system's process tree)."""
    lock = threading.Lock()
    remaining = [total]
    latencies: list[float] = []

    def worker() -> None:
        client = make_client()
        try:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                try:
                    elapsed = client.call()
                except (RuntimeError, OSError) as e:
                    with lock:
                        result.errors += 1
                        result.note = str(e)[:80]
                    client.close()
                    client = make_client()
                    continue
                with lock:
                    latencies.append(elapsed)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    machine0, own0 = machine_busy_seconds(), own_cpu_seconds()
    cpu0, wall0 = cpu(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall0
    used = cpu() - cpu0
    machine1, own1 = machine_busy_seconds(), own_cpu_seconds()
    result.concurrent_latencies = latencies
    done = max(1, len(latencies))
    if machine0 is not None and machine1 is not None:
        result.machine_cpu_per_run = max(0.0, machine1 - machine0 - (own1 - own0)) / done
    return len(latencies) / wall, used / done


def wait_http(
    port: int, path: str, headers: dict[str, str], process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path, headers=headers)
            status = connection.getresponse().status
            connection.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def server_process(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_kernel_uss(server_pid: int, expected: int) -> float | None:
    """Mean USS of a warm kernel under a server, once ``expected`` are up: each kernel's
    whole process tree (with the sandbox: its namespace's init, and its supervisor where
    there is one), not its zygote."""
    server = psutil.Process(server_pid)
    deadline = time.monotonic() + 30
    while True:
        kernels = []  # the top process of each kernel's tree
        for process in server.children():
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(process.cmdline())
                if "zygote.py" in cmdline:
                    kernels += process.children()  # forked kernels
                elif "ipykernel" in cmdline or "sandbox.py" in cmdline:
                    kernels.append(process)  # spawned ones
        if len(kernels) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not kernels:
        return None
    time.sleep(2.0)  # idle: done starting
    sizes = []
    for kernel in kernels:
        with contextlib.suppress(psutil.Error):
            tree = [kernel, *kernel.children(recursive=True)]
            sizes.append(sum(process.memory_full_info().uss for process in tree))
    return statistics.mean(sizes) if sizes else None


def jupyter_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment with Jupyter's directories inside ``home`` (nothing of the user's)."""
    return {
        **os.environ,
        **extra,
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }


def scripting_argv(port: int, home: Path) -> list[str]:
    """A Jupyter server with jupyter_scripting on loopback, its root and token ours."""
    return [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ip=127.0.0.1",
        "--no-browser",
        "--allow-root",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={home}",
        "--ServerApp.jpserver_extensions={'jupyter_scripting': True}",
    ]


def bench_scripting(
    args: argparse.Namespace,
    mode: str,
    pool: int | None,
    fork: bool,
    work: Path,
    sandbox: str = "required",
) -> Result:
    result = Result("jupyter_scripting", mode)
    home = Path(tempfile.mkdtemp(prefix="scripting-", dir=work))
    port = free_port()
    env = jupyter_env(home)
    argv = scripting_argv(port, home)
    settings: dict[str, Any] = {
        "kernel_pool_size": pool,
        "fork_kernelspecs": ["python3"] if fork else [],
        "database_url": f"sqlite:///{home / 'store.sqlite'}",
        "max_sync_runs_per_tenant": 32,
        # Every row but the "sandbox off" ones measures the run sandbox (the default);
        # "required" so that a machine without namespaces fails rather than measures none.
        "sandbox": sandbox,
    }
    if pool is None:
        del settings["kernel_pool_size"]  # the default
    (home / "config").mkdir()
    (home / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ScriptingApp": settings})
    )
    headers = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
    with server_process(argv, env, home, home / "server.log") as process:
        wait_http(port, "/scripting/script", headers, process, home / "server.log")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        notebook = json.loads(HELLO.read_text())
        connection.request(
            "POST",
            "/scripting/script",
            json.dumps({"name": "hello", "notebook": notebook}),
            headers,
        )
        answer = connection.getresponse()
        script_id = json.loads(answer.read())["scriptId"]
        connection.close()
        path = f"/scripting/script/{script_id}/run"
        # The first run starts the zygote (fork modes) or the first kernels.
        Client(port, path, headers).call()
        if pool is None or pool:
            result.uss = idle_kernel_uss(process.pid, pool or min(4, os.cpu_count() or 1))
        measure_http(
            result,
            process.pid,
            port,
            path,
            headers,
            args.sequential if pool != 0 or fork else args.sequential_cold,
            args.concurrent if pool != 0 or fork else args.concurrent_cold,
            args.warmup,
            args.pause,
        )
    return result


def bench_kernel_gateway(args: argparse.Namespace, prespawn: int, work: Path) -> Result:
    result = Result("Kernel Gateway", f"notebook-http, prespawn {prespawn}")
    home = Path(tempfile.mkdtemp(prefix="kg-", dir=work))
    (home / "hello_kg.ipynb").write_text(json.dumps(KG_NOTEBOOK))
    port = free_port()
    bindir = Path(args.reference_python).parent
    env = jupyter_env(home, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    argv = [
        args.reference_python,
        "-m",
        "kernel_gateway",
        "--KernelGatewayApp.api=kernel_gateway.notebook_http",
        f"--KernelGatewayApp.seed_uri={home / 'hello_kg.ipynb'}",
        f"--KernelGatewayApp.prespawn_count={prespawn}",
        "--KernelGatewayApp.ip=127.0.0.1",
        f"--KernelGatewayApp.port={port}",
        "--KernelGatewayApp.port_retries=0",
        f"--KernelGatewayApp.auth_token={TOKEN}",
    ]
    headers = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
    with server_process(argv, env, home, home / "kg.log") as process:
        wait_http(port, "/_api/spec/swagger.json", headers, process, home / "kg.log")
        client = Client(port, "/hello", headers)
        deadline = time.monotonic() + 60
        while True:  # the prespawned kernels run the seed notebook first
            try:
                client.call()
                break
            except (RuntimeError, OSError):
                client.close()
                client = Client(port, "/hello", headers)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.close()
        result.uss = idle_kernel_uss(process.pid, prespawn)
        measure_http(
            result,
            process.pid,
            port,
            "/hello",
            headers,
            args.sequential,
            args.concurrent,
            args.warmup,
            args.pause,
        )
    return result


class PapermillClient:
    """One papermill CLI run per call (a new process and a new kernel each time)."""

    def __init__(self, args: argparse.Namespace, home: Path) -> None:
        self.args, self.home = args, home
        self.count = 0

    def call(self) -> float:
        self.count += 1
        out = self.home / f"out-{threading.get_ident()}-{self.count}.ipynb"
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(Path(self.args.reference_python).parent / "papermill"),
                str(self.home / "hello_pm.ipynb"),
                str(out),
                "-p",
                "name",
                "John Smith",
                "-k",
                "python3",
                "--no-progress-bar",
            ],
            cwd=self.home,
            env=self.args.papermill_env,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or EXPECTED.decode() not in out.read_text():
            raise RuntimeError(done.stderr.decode(errors="replace")[-200:])
        return elapsed

    def close(self) -> None:
        pass


def bench_papermill(args: argparse.Namespace, work: Path) -> Result:
    result = Result("papermill CLI", "process + kernel per run")
    home = Path(tempfile.mkdtemp(prefix="papermill-", dir=work))
    (home / "hello_pm.ipynb").write_text(json.dumps(PAPERMILL_NOTEBOOK))
    bindir = Path(args.reference_python).parent
    args.papermill_env = jupyter_env(home, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    client = PapermillClient(args, home)
    client.call()  # warm the disk cache
    for _ in range(args.papermill_runs):
        result.latencies.append(client.call())
    result.throughput, result.cpu_per_run = run_concurrently(
        lambda: PapermillClient(args, home),
        args.papermill_concurrent,
        result,
        children_cpu_seconds,
    )
    return result


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    return f"{value / reference:.2f}x"


def print_table(results: list[Result]) -> None:
    kg = [r for r in results if r.system == "Kernel Gateway"]
    kg_p50 = min((r.p50 for r in kg if r.p50), default=None)
    kg_rps = max((r.throughput for r in kg if r.throughput), default=None)
    header = (
        f"{'system':<18} {'mode':<28} {'p50 ms':>8} {'p95 ms':>8} {'p50/KG':>7} "
        f"{'runs/s@10':>9} {'/KG':>6} {'p50@10':>8} {'CPU ms/run':>10} {'machine':>7} "
        f"{'USS MB':>7} {'errors':>6}"
    )
    print()
    print(
        f"Hello notebook, loopback, {os.cpu_count()} CPUs; KG = Kernel Gateway's best "
        f"(p50 {ms(kg_p50)} ms, {kg_rps or 0:.1f} runs/s)"
    )
    print(
        "CPU ms/run: the system's processes (reaped ones included); machine: the whole "
        "machine's busy CPU at concurrency 10 less this client's, per run"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        uss = "-" if r.uss is None else f"{r.uss / 2**20:.1f}"
        rps = "-" if r.throughput is None else f"{r.throughput:.1f}"
        print(
            f"{r.system:<18} {r.mode:<28} {ms(r.p50):>8} {ms(r.p95):>8} {ratio(r.p50, kg_p50):>7} "
            f"{rps:>9} {ratio(r.throughput, kg_rps):>6} "
            f"{ms(percentile(r.concurrent_latencies, 50)):>8} {ms(r.cpu_per_run):>10} "
            f"{ms(r.machine_cpu_per_run):>7} {uss:>7} "
            f"{r.errors:>6}"
        )
    for r in results:
        if r.cpu_parts:
            parts = ", ".join(f"{part} {ms(value)}" for part, value in r.cpu_parts.items())
            print(f"  CPU ms per run at concurrency 10 ({r.mode}): {parts}")
    for r in results:
        if r.note:
            print(f"  note ({r.system}, {r.mode}): {r.note}")


def print_targets(results: list[Result]) -> None:
    fork = next((r for r in results if r.mode.startswith("fork pool")), None)
    kg = [r for r in results if r.system == "Kernel Gateway" and r.p50]
    papermill = next((r for r in results if r.system == "papermill CLI" and r.p50), None)
    if fork is None or fork.p50 is None:
        return
    print()
    print("Targets (fresh kernel per run, fork pool):")

    def line(ok: bool, text: str) -> None:
        print(f"  [{'met ' if ok else 'MISS'}] {text}")

    if kg:
        kg_p50 = min(r.p50 for r in kg if r.p50)
        line(
            fork.p50 <= 1.25 * kg_p50,
            f"p50 {ms(fork.p50)} ms <= 1.25 x Kernel Gateway's {ms(kg_p50)} ms "
            f"(= {ms(1.25 * kg_p50)} ms): {fork.p50 / kg_p50:.2f}x",
        )
    if fork.throughput is not None:
        line(
            fork.throughput >= 40,
            f"{fork.throughput:.1f} runs/s at concurrency 10 >= 40 (the aim: 50)",
        )
    cpu = fork.machine_cpu_per_run if fork.machine_cpu_per_run is not None else fork.cpu_per_run
    if cpu is not None:
        parts = ", ".join(f"{part} {ms(value)}" for part, value in fork.cpu_parts.items())
        line(
            cpu <= 0.040,
            f"CPU {ms(cpu)} ms per run, all processes together (the machine's), <= 40 ms "
            f"(by process: {parts})",
        )
    if fork.uss is not None:
        line(fork.uss <= 30 * 2**20, f"idle pooled kernel {fork.uss / 2**20:.1f} MB USS <= 30 MB")
    if papermill is not None and papermill.p50:
        line(
            papermill.p50 >= 100 * fork.p50,
            f"{papermill.p50 / fork.p50:.0f}x faster per run than the papermill CLI (>= 100x)",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", help="Python with kernel_gateway and papermill")
    parser.add_argument("--sequential", type=int, default=200, help="sequential runs per system")
    parser.add_argument(
        "--sequential-cold", type=int, default=20, help="... when every run spawns a kernel"
    )
    parser.add_argument("--concurrent", type=int, default=400, help="runs at concurrency 10")
    parser.add_argument(
        "--concurrent-cold", type=int, default=40, help="... when every run spawns a kernel"
    )
    parser.add_argument("--papermill-runs", type=int, default=5)
    parser.add_argument("--papermill-concurrent", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between sequential runs")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset: fork,forkoff,spawn,forknopool,nopool,kg1,kg4,papermill",
    )
    args = parser.parse_args(argv)
    if args.reference_python:
        # Absolute, but not resolved: a venv's python is a symlink out of the venv.
        args.reference_python = os.path.abspath(args.reference_python)
    only = set(filter(None, args.only.split(",")))
    selected = lambda name: not only or name in only  # noqa: E731
    if args.reference_python is None and (
        selected("kg1") or selected("kg4") or selected("papermill")
    ):
        parser.error(
            "--reference-python is needed for Kernel Gateway and papermill (see `make bench`)"
        )
    work = Path(tempfile.mkdtemp(prefix="jupyter-scripting-bench-"))
    results: list[Result] = []
    plan: list[tuple[str, Callable[[], Result]]] = [
        ("fork", lambda: bench_scripting(args, "fork pool (default)", None, True, work)),
        (
            "forkoff",
            lambda: bench_scripting(args, "fork pool, sandbox off", None, True, work, "off"),
        ),
        ("spawn", lambda: bench_scripting(args, "spawn pool", 2, False, work)),
        ("forknopool", lambda: bench_scripting(args, "fork, no pool", 0, True, work)),
        ("nopool", lambda: bench_scripting(args, "spawn, no pool", 0, False, work)),
        ("kg1", lambda: bench_kernel_gateway(args, 1, work)),
        ("kg4", lambda: bench_kernel_gateway(args, 4, work)),
        ("papermill", lambda: bench_papermill(args, work)),
    ]
    try:
        for name, bench in plan:
            if not selected(name):
                continue
            print(f"... {name}", file=sys.stderr, flush=True)
            results.append(bench())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    print_sandbox_cost(results)
    print_targets(results)
    return 0


def print_sandbox_cost(results: list[Result]) -> None:
    """What the run sandbox costs per run: the fork pool with it and without it."""
    on = next((r for r in results if r.mode == "fork pool (default)"), None)
    off = next((r for r in results if r.mode == "fork pool, sandbox off"), None)
    if on is None or off is None or on.p50 is None or off.p50 is None:
        return
    print()
    cpu = "-"
    if on.machine_cpu_per_run is not None and off.machine_cpu_per_run is not None:
        cpu = f"{(on.machine_cpu_per_run - off.machine_cpu_per_run) * 1000:+.1f} ms (machine)"
    rps = "-"
    if on.throughput and off.throughput:
        rps = f"{on.throughput:.1f} vs {off.throughput:.1f} runs/s at concurrency 10"
    print(
        f"Sandbox cost per run (fork pool, on - off): p50 {(on.p50 - off.p50) * 1000:+.1f} ms, "
        f"CPU {cpu}; {rps}"
    )


if __name__ == "__main__":
    sys.exit(main())
