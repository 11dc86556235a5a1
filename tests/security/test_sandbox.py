"""The hostile tenant's suite of the run sandbox (README, "Security model"): each test is
one attack a script tries from inside its kernel, against a real server process started with
its token on the command line, and what the attack now gets.

Skipped, saying why, on a machine where no sandbox can be made (e.g. Docker's default
seccomp profile) — unless ``JUPYTER_SCRIPTING_TEST_SANDBOX=required`` (CI sets it), where
that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_scripting.execution import sandbox
from jupyter_scripting.execution.sandbox_policy import Sandbox

from ..helpers import notebook_of
from ..server_process import TOKEN, ServerProcess, stop_process

pytestmark = pytest.mark.run_path

MiB = 1 << 20
MEMORY_LIMIT = 512 * MiB
MAX_PROCESSES = 32
MAX_FILE_SIZE = 8 * MiB
TMP_SIZE = 64 * MiB


def _sandbox_here() -> str | None:
    """None if this machine can sandbox runs; else why not."""
    policy = Sandbox(mode="auto")
    policy._read_only = list(sandbox.SYSTEM_PATHS) + sandbox.python_paths()
    return policy._probe()


@pytest.fixture(scope="module")
def sandbox_available() -> None:
    failure = _sandbox_here()
    if failure is not None:
        if os.environ.get("JUPYTER_SCRIPTING_TEST_SANDBOX") == "required":
            pytest.fail(f"no sandbox can be made on this machine: {failure}")
        pytest.skip(f"no sandbox can be made on this machine: {failure}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sandbox_available: None) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("hostile")
    process = ServerProcess(
        home,
        "--ScriptingApp.sandbox=required",
        f"--ScriptingApp.run_memory_limit={MEMORY_LIMIT}",
        f"--ScriptingApp.run_max_processes={MAX_PROCESSES}",
        f"--ScriptingApp.run_max_file_size={MAX_FILE_SIZE}",
        f"--ScriptingApp.run_tmp_size={TMP_SIZE}",
    )
    process.start()
    yield process
    process.stop()


def make_key(server: Any, tenant: str, role: str = "developer") -> dict[str, str]:
    """A real API key of ``tenant``, made with the command line on the server's store."""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(server.home / "data")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_scripting.cli",
            "key",
            "create",
            "--tenant",
            tenant,
            "--user",
            "mallory",
            "--role",
            role,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {"Authorization": f"Bearer {done.stdout.strip().splitlines()[-1]}"}


@pytest.fixture(scope="module")
def acme(server: Any) -> dict[str, str]:
    return make_key(server, "acme")


@pytest.fixture(scope="module")
def victim(server: Any) -> dict[str, str]:
    return make_key(server, "victim")


def publish(server: Any, headers: dict[str, str], *sources: str) -> str:
    status, body = server.call(
        "scripting/script",
        "POST",
        {"name": "attack", "notebook": notebook_of(*sources)},
        headers=headers,
    )
    assert status == 201, body
    return str(json.loads(body)["scriptId"])


def run(server: Any, headers: dict[str, str], script_id: str, body: Any = None) -> tuple[int, Any]:
    status, answer = server.call(
        f"scripting/script/{script_id}/run", "POST", body or {}, headers=headers
    )
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, answer.decode()


def host_processes(argument: str) -> list[psutil.Process]:
    """Processes of the machine whose command line has ``argument``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if argument in (process.info["cmdline"] or []) and process.info["status"] != "zombie":
            found.append(process)
    return found


def gone_within(argument: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while host_processes(argument):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# -- the server's secrets and processes -------------------------------------------------
def test_no_process_of_the_server_is_visible_nor_its_token(server, acme):
    script_id = publish(
        server,
        acme,
        "import os\n"
        "token = request.json()['reversed'][::-1].encode()\n"
        "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        "leaks, cmdlines = [], {}\n"
        "for pid in pids:\n"
        "    for name in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            data = open(f'/proc/{pid}/{name}', 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        "        if token in data:\n"
        "            leaks.append([pid, name])\n"
        "        if name == 'cmdline':\n"
        "            cmdlines[pid] = data.decode(errors='replace')\n"
        "response.json({'pids': pids, 'leaks': leaks, 'cmdlines': cmdlines, 'me': os.getpid(),\n"
        "               'ppid_of_init': open('/proc/1/stat').read().split()[3]})",
    )
    status, seen = run(server, acme, script_id, {"reversed": TOKEN[::-1]})
    assert status == 200, seen
    assert seen["leaks"] == []
    # Its own namespace: init (1), the kernel (2), and what the kernel runs.
    assert seen["me"] == 2 and seen["pids"][:2] == [1, 2]
    assert seen["ppid_of_init"] == "0"  # init's parent is outside: not even a number to see
    assert not any(
        "jupyter_server" in c or "IdentityProvider" in c for c in seen["cmdlines"].values()
    )


def test_store_and_jupyter_directories_are_not_there(server, acme):
    home = server.home
    places = {
        "store": str(home / "data" / "scripting" / "jupyter_scripting.sqlite"),
        "data": str(home / "data"),
        "runtime": str(home / "runtime"),
        "config": str(home / "config"),
        "root_dir": str(home),
        "server log": str(server.log_path),
    }
    assert Path(places["store"]).exists()  # it is there, on the host
    script_id = publish(
        server,
        acme,
        "import os\n"
        "places = request.json()\n"
        "server_home = places.pop('server_home')\n"
        "seen = {}\n"
        "for what, path in places.items():\n"
        "    isdir = os.path.isdir(path)\n"
        "    seen[what] = os.path.exists(path) and (os.listdir(path) if isdir else 'file')\n"
        "seen['server_home'] = os.listdir(server_home) if os.path.isdir(server_home) else []\n"
        "home = os.path.expanduser('~')\n"
        "writable = {}\n"
        "tries = ('/usr/attack', '/etc/attack', '/attack', home + '/ok', '/tmp/ok',\n"
        "         '/dev/shm/ok')\n"
        "for path in tries:\n"
        "    try:\n"
        "        open(path, 'w').close(); writable[path] = True\n"
        "    except OSError:\n"
        "        writable[path] = False\n"
        "response.json({'seen': seen, 'writable': writable, 'cwd': os.getcwd(), 'home': home,\n"
        "               'uid': os.getuid()})",
    )
    server_home = os.path.expanduser("~")
    status, answer = run(server, acme, script_id, {**places, "server_home": server_home})
    assert status == 200, answer
    seen = answer["seen"]
    for what in places:
        assert seen[what] is False, (what, seen[what])
    # The server's $HOME: nothing but the way to this Python environment, if it is there.
    python = [sys.prefix, sys.base_prefix, *sys.path]
    for name in seen["server_home"]:
        assert any(p.startswith(os.path.join(server_home, name)) for p in python), name
    assert answer["writable"] == {
        "/usr/attack": False,
        "/etc/attack": False,
        "/attack": False,
        f"{sandbox.HOME}/ok": True,
        "/tmp/ok": True,
        "/dev/shm/ok": True,
    }
    assert answer["cwd"] == answer["home"] == sandbox.HOME
    if os.geteuid() == 0:
        assert answer["uid"] == 65534  # a root server's kernels run as nobody


def test_two_tenants_running_at_once_see_nothing_of_each_other(server, acme, victim):
    victim_id = publish(
        server,
        victim,
        "import os, time\n"
        "for path in ('/tmp/victim-secret', '/dev/shm/victim-secret', 'victim-secret'):\n"
        "    open(path, 'w').write('victim data')\n"
        "time.sleep(4)\n"
        "print('done')",
    )
    acme_id = publish(
        server,
        acme,
        "import glob, os, time\n"
        "time.sleep(1.5)\n"
        "response.json({\n"
        "    'tmp': os.listdir('/tmp'), 'shm': os.listdir('/dev/shm'), 'home': os.listdir('.'),\n"
        "    'connection_files': glob.glob('/dev/shm/**/kernel.json', recursive=True)\n"
        "        + glob.glob('/tmp/**/kernel.json', recursive=True),\n"
        "    'own': __import__('ipykernel.connect').connect.get_connection_file(),\n"
        "    'found': [os.path.join(d, f) for top in os.listdir('/')\n"
        "              if top not in ('proc', 'sys', 'usr', 'lib', 'lib64', 'etc', 'root')\n"
        "              for d, _, files in os.walk('/' + top) for f in files\n"
        "              if f == 'victim-secret'],\n"
        "    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
        "})",
    )
    answers: dict[str, Any] = {}
    victim_run = threading.Thread(
        target=lambda: answers.update(victim=run(server, victim, victim_id))
    )
    victim_run.start()
    answers["acme"] = run(server, acme, acme_id)
    victim_run.join()
    assert answers["victim"] == (200, "done")
    status, seen = answers["acme"]
    assert status == 200, seen
    assert seen["home"] == [] and seen["found"] == []
    # /tmp: empty, but for the way to this Python environment if it lives in /tmp.
    python = [sys.prefix, sys.base_prefix, *sys.path]
    for name in seen["tmp"]:
        assert any(p.startswith(os.path.join("/tmp", name)) for p in python), name
    assert seen["connection_files"] == [seen["own"]]  # its own only
    assert seen["shm"] == [os.path.basename(os.path.dirname(seen["own"]))]
    assert seen["pids"] == [1, 2]


# -- what a script leaves behind --------------------------------------------------------
def test_a_detached_grandchild_dies_with_its_run(server, acme):
    marker = "1000.321"
    script_id = publish(
        server,
        acme,
        "import os, subprocess\n"
        f"child = subprocess.Popen(['sleep', '{marker}'], start_new_session=True,\n"
        "                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
        "                         stderr=subprocess.DEVNULL)\n"
        "# and a daemon the classic way: double fork, new session\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "print(os.path.exists(f'/proc/{child.pid}'))",
    )
    status, answer = run(server, acme, script_id)
    assert (status, answer) == (200, "True")
    assert gone_within(marker, 5), host_processes(marker)


def test_a_shown_path_inside_another_is_bound_again_only_below_a_mask(tmp_path):
    outer, inner, deep = tmp_path / "env", tmp_path / "env" / "lib", tmp_path / "env" / "h" / "py"
    inner.mkdir(parents=True)
    deep.mkdir(parents=True)
    config = {"read_only": [str(outer), str(inner), str(deep)], "hidden": []}
    assert sandbox.plan(config) == [("bind", str(outer))]
    # A hidden path between them: the inner path is bound on top of the mask.
    config["hidden"] = [str(outer / "h")]
    assert sandbox.plan(config) == [
        ("bind", str(outer)),
        ("mask", str(outer / "h")),
        ("bind", str(deep)),
    ]


def _pid_namespace(pid: int, which: str = "pid") -> int:
    return os.stat(f"/proc/{pid}/ns/{which}").st_ino


@pytest.mark.skipif(os.geteuid() != 0, reason="the supervisor-less path is the root path")
@pytest.mark.skipif(
    os.environ.get("JUPYTER_SCRIPTING_TEST_FORK") == "0", reason="the fork server is off"
)
def test_a_forked_kernel_is_two_processes_and_the_zygote_keeps_its_own_pid_namespace(server, acme):
    # A run first: the zygote is up, and its pool has forked kernels since.
    status, answer = run(server, acme, publish(server, acme, "print('warm')"))
    assert (status, answer) == (200, "warm")
    server_process = psutil.Process(server.pid)
    zygotes = [p for p in server_process.children() if any("zygote.py" in a for a in p.cmdline())]
    assert len(zygotes) == 1, zygotes
    zygote = zygotes[0]
    own = _pid_namespace(server.pid)
    # The zygote's later children are born in the server's namespace again (setns back).
    assert _pid_namespace(zygote.pid) == own
    assert _pid_namespace(zygote.pid, "pid_for_children") == own

    def pooled() -> list[tuple[psutil.Process, list[psutil.Process]]]:
        """The zygote's children with theirs, once all are up (the run's own is gone)."""
        try:
            trees = [(init, init.children()) for init in zygote.children()]
            if trees and all(kernels and init.status() != "zombie" for init, kernels in trees):
                return trees
        except psutil.Error:
            pass
        return []

    deadline = time.monotonic() + 30
    while not (trees := pooled()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert trees, zygote.children()
    namespaces = set()
    for init, kernels in trees:
        # The process the server knows is PID 1 of the run's own namespace (no
        # supervisor), and its only child is the kernel, with nothing below it.
        assert _pid_namespace(init.pid) != own
        namespaces.add(_pid_namespace(init.pid))
        assert len(kernels) == 1, kernels
        assert _pid_namespace(kernels[0].pid) == _pid_namespace(init.pid)
        assert kernels[0].children() == []
    inits = trees
    assert len(namespaces) == len(inits)  # one namespace per kernel


def test_memory_past_the_limit_is_502_naming_memory_and_the_server_lives_on(server, acme):
    script_id = publish(server, acme, "data = b'x' * 1_500_000_000\nprint(len(data))")
    status, error = run(server, acme, script_id)
    assert status == 502, error
    assert error["reason"] == "memory-limit"
    assert "512 MiB of memory" in error["message"] and "run_memory_limit" in error["message"]
    hello = publish(server, acme, "print('still here')")
    assert run(server, acme, hello) == (200, "still here")


def test_a_fork_bomb_fails_inside_its_run_and_leaves_nothing(server, acme):
    marker = "1000.654"
    script_id = publish(
        server,
        acme,
        "import subprocess\n"
        f"children = [subprocess.Popen(['sleep', '{marker}']) for _ in range(200)]",
    )
    status, error = run(server, acme, script_id)
    assert status == 502, error
    assert error["reason"] == "process-limit"
    assert str(MAX_PROCESSES) in error["message"] and "run_max_processes" in error["message"]
    assert gone_within(marker, 10), host_processes(marker)
    started = time.monotonic()
    hello = publish(server, acme, "print('next')")
    assert run(server, acme, hello) == (200, "next")
    assert time.monotonic() - started < 10


def test_files_are_capped_in_size_and_the_scratch_space_in_total(server, acme):
    script_id = publish(
        server,
        acme,
        "import os\n"
        "errors = {}\n"
        "try:\n"
        f"    open('big', 'wb').write(b'x' * {2 * MAX_FILE_SIZE})\n"
        "except OSError as e:\n"
        "    errors['big'] = e.strerror\n"
        "os.remove('big')\n"
        "try:\n"
        f"    for i in range({2 * TMP_SIZE // MAX_FILE_SIZE}):\n"
        f"        open(f'/tmp/part{{i}}', 'wb').write(b'x' * {MAX_FILE_SIZE - 4096})\n"
        "except OSError as e:\n"
        "    errors['many'] = e.strerror\n"
        "response.json(errors)",
    )
    status, errors = run(server, acme, script_id)
    assert status == 200, errors
    assert errors == {"big": "File too large", "many": "No space left on device"}


# -- modes ------------------------------------------------------------------------------
def test_required_refuses_to_start_where_namespaces_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(sandbox.REFUSE_ENV, "1")
    process = ServerProcess(tmp_path, "--ScriptingApp.sandbox=required")
    with pytest.raises(AssertionError):
        process.start(timeout=60)
    assert process.process is not None
    code = process.wait(30)
    log = process.log()
    assert code != 0
    assert "No sandbox can be made for runs on this machine" in log
    assert "Operation not permitted" in log and "'required'" in log
    assert "Traceback" not in log


def test_auto_starts_without_a_sandbox_where_refused_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(sandbox.REFUSE_ENV, "1")
    process = ServerProcess(tmp_path)  # sandbox = "auto", the default
    process.start()
    try:
        status, metrics = process.call("metrics")
        assert status == 200
        assert "jupyter_scripting_sandbox_active 0.0" in metrics.decode()
        assert "The run sandbox is OFF" in process.log()
        script_id = process.publish(notebook_of("import os\nprint(os.getpid() > 2)"))
        assert process.call(f"scripting/script/{script_id}/run", "POST", {}) == (200, b"True")
    finally:
        stop_process(process.process)  # type: ignore[arg-type]


def test_the_default_is_on_and_shown_in_the_metrics(server):
    status, metrics = server.call("metrics")
    assert status == 200
    assert "jupyter_scripting_sandbox_active 1.0" in metrics.decode()
    assert "Run sandbox: on (namespaces" in server.log()


# -- the unprivileged path: a server that is not root -----------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_an_unprivileged_server_sandboxes_through_a_user_namespace(sandbox_available):
    python = shutil.which("python3", path="/usr/bin:/bin")
    setpriv = shutil.which("setpriv")
    if python is None or setpriv is None:
        pytest.skip("needs /usr/bin/python3 and setpriv to run as nobody")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with tempfile.TemporaryDirectory() as scratch:
        launcher = os.path.join(scratch, "sandbox.py")
        shutil.copy(sandbox.__file__, launcher)
        runtime = os.path.join(scratch, "runtime")
        os.mkdir(runtime)
        os.chmod(scratch, 0o755)
        os.chown(runtime, 65534, 65534)
        config = {
            "userns": True,
            "read_only": list(sandbox.SYSTEM_PATHS),
            "hidden": ["/root", scratch],
            "writable": [runtime],
            "home": sandbox.HOME,
            "tmp_size": 1 << 20,
            "memory": 0,
            "processes": 16,
            "file_size": 0,
            "cgroups": [],
        }
        check = (
            "import os, subprocess\n"
            "caps = [l for l in open('/proc/self/status') if l.startswith('Cap')]\n"
            "assert all(l.split()[1] == '0' * 16 for l in caps), caps\n"
            "assert os.getpid() == 2, os.getpid()\n"
            # /tmp holds the way to the run's runtime directory only (in /tmp here)
            f"assert os.listdir('/tmp') == [{os.path.basename(scratch)!r}], os.listdir('/tmp')\n"
            "assert not os.path.exists('/root/.bashrc')\n"
            "assert subprocess.run(['umount', '/tmp'], capture_output=True).returncode != 0\n"
            "try:\n"
            "    [subprocess.Popen(['sleep', '1000.987']) for _ in range(40)]\n"
            "except BlockingIOError:\n"
            "    print('limited')\n"
        )
        done = subprocess.run(
            [
                *nobody,
                python,
                "-I",
                launcher,
                "--exec",
                json.dumps(config),
                "--",
                python,
                "-c",
                check,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "limited\n"
    assert gone_within("1000.987", 5)
