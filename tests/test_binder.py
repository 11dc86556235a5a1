"""The Binder demo, as repo2docker would build and start it: a fresh virtual environment gets
what ``binder/requirements.txt`` lists, then the very ``binder/postBuild`` runs from the
repository's root; JupyterLab started from that environment must have the extension, the
Scripts panel open, and the six demos published and answering over HTTP.

Slow (a new environment, a real ``pip install .``): one setup for the whole module. HOME and
the Jupyter directories are temporary, so nothing touches the developer's store; pip keeps
the developer's configuration and cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .server_process import free_port, stop_process

ROOT = Path(__file__).parent.parent
BUILT_LABEXTENSION = ROOT / "jupyter_scripting" / "labextension"
DEMOS = {"hello", "json_api", "html_report", "chart", "slow_job", "greeting"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The name our labextension gives the Scripts panel in JupyterLab's layout restorer.
PANEL_RESTORER_NAME = "jupyter-scripting-panel"

# Setting up takes minutes (counted in the first test's time); the calls are quick.
pytestmark = pytest.mark.timeout(1200)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Binder:
    """The environment built as Binder builds it, and JupyterLab running from it."""

    venv: Path
    env: dict[str, str]
    port: int
    token: str
    built_before: dict[str, str]
    postbuild_output: str

    def call(
        self,
        path: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            data=body,
            method=method,
            headers={"Authorization": f"token {self.token}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return Answer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, dict(error.headers), error.read())

    def script_id(self, name: str) -> str:
        scripts = self.call("scripting/script").json()["scripts"]
        return next(s["scriptId"] for s in scripts if s["name"] == name)


def digests(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` → its mtime and SHA-256 (a rebuild changes both)."""
    return {
        str(path.relative_to(directory)): (
            f"{path.stat().st_mtime_ns} {hashlib.sha256(path.read_bytes()).hexdigest()}"
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def pip_settings() -> dict[str, str]:
    """The developer's pip configuration file and cache, kept under a temporary HOME."""
    settings = {}
    if "PIP_CONFIG_FILE" not in os.environ:
        config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        for candidate in (config_home / "pip" / "pip.conf", Path.home() / ".pip" / "pip.conf"):
            if candidate.is_file():
                settings["PIP_CONFIG_FILE"] = str(candidate)
                break
    if "PIP_CACHE_DIR" not in os.environ:
        cache = subprocess.run(
            [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
        )
        if cache.returncode == 0 and cache.stdout.strip():
            settings["PIP_CACHE_DIR"] = cache.stdout.strip()
    return settings


def binder_environment(home: Path, venv: Path) -> dict[str, str]:
    """What postBuild and the server see: the venv first on PATH, a HOME of their own and
    the Jupyter directories Binder's user has in it — none of the developer's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("JUPYTER", "JUPYTERLAB_", "XDG_", "PYTHON", "MPL"))
        and name not in ("VIRTUAL_ENV", "CONDA_PREFIX")
    }
    env.update(pip_settings())
    env.update(
        HOME=str(home),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / ".local" / "share" / "jupyter" / "runtime"),
    )
    return env


def checked(command: list[str], env: dict[str, str], log: Path) -> str:
    """Run ``command`` from the repository's root; its output, or a failure showing it."""
    result = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    with log.open("a") as f:
        f.write(f"$ {' '.join(command)}\n{result.stdout}\n")
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-8000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Binder]:
    assert (BUILT_LABEXTENSION / "package.json").exists(), "run `make install` first"
    base = tmp_path_factory.mktemp("binder")
    home, venv, log = base / "home", base / "venv", base / "setup.log"
    home.mkdir()
    env = binder_environment(home, venv)

    checked([sys.executable, "-m", "venv", str(venv)], env, log)
    python = str(venv / "bin" / "python")
    checked([python, "-m", "pip", "install", "-r", "binder/requirements.txt"], env, log)
    built_before = digests(BUILT_LABEXTENSION)
    # As repo2docker runs it: the executable file itself, from the repository's root.
    postbuild_output = checked([str(ROOT / "binder" / "postBuild")], env, log)

    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(venv / "bin" / "jupyter"),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with (base / "server.log").open("wb") as server_log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=server_log, stderr=server_log)
    lab = Binder(venv, env, port, token, built_before, postbuild_output)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if lab.call("scripting/script").status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (base / "server.log").read_text(errors="replace")
            assert time.monotonic() < deadline, (base / "server.log").read_text(errors="replace")
            time.sleep(0.3)
        yield lab
    finally:
        stop_process(server, timeout=60)
        shutil.rmtree(venv, ignore_errors=True)  # hundreds of MB; pytest keeps its temp dirs


def test_postbuild_reused_the_labextension_built_in_the_checkout(binder: Binder) -> None:
    """skip-if-exists: `pip install .` shipped the checkout's build and did not rebuild it."""
    assert digests(BUILT_LABEXTENSION) == binder.built_before
    installed = binder.venv / "share" / "jupyter" / "labextensions" / "jupyter-scripting"
    assert not installed.is_symlink()
    assert (installed / "package.json").read_bytes() == (
        BUILT_LABEXTENSION / "package.json"
    ).read_bytes()
    assert "Published 6 demo scripts" in binder.postbuild_output


def test_the_labextension_is_installed_and_enabled(binder: Binder) -> None:
    listing = subprocess.run(
        [str(binder.venv / "bin" / "jupyter"), "labextension", "list"],
        env=binder.env,
        capture_output=True,
        text=True,
    )
    line = next(
        (
            line
            for line in (listing.stdout + listing.stderr).splitlines()
            if "jupyter-scripting" in line
        ),
        "",
    )
    assert "enabled" in line and "OK" in line, listing.stdout + listing.stderr
    assert str(binder.venv) in listing.stdout + listing.stderr

    # And JupyterLab's page loads it: it is in the page config, not disabled.
    page = binder.call("lab")
    assert page.status == 200
    found = re.search(rb'<script id="jupyter-config-data"[^>]*>(.*?)</script>', page.body, re.S)
    assert found, page.body[:2000]
    config = json.loads(found.group(1))
    assert "jupyter-scripting" in {e["name"] for e in config["federated_extensions"]}
    assert not any("jupyter-scripting" in name for name in config.get("disabledExtensions", []))


def test_the_scripts_panel_opens_in_the_default_workspace(binder: Binder) -> None:
    # The name JupyterLab restores the panel by is the one our extension registers.
    index = (ROOT / "labextension" / "src" / "index.ts").read_text()
    assert f"restorer?.add(panel, '{PANEL_RESTORER_NAME}')" in index
    workspace = binder.call("lab/api/workspaces/default")
    assert workspace.status == 200, workspace.body
    left = workspace.json()["data"]["layout-restorer:data"]["left"]
    assert left == {"collapsed": False, "current": PANEL_RESTORER_NAME}


def test_jupyterlab_asks_no_question_about_news(binder: Binder) -> None:
    settings = binder.call("lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert settings.status == 200, settings.body
    properties = settings.json()["schema"]["properties"]
    assert properties["fetchNews"]["default"] == "false"
    assert properties["checkForUpdates"]["default"] is False


def test_the_six_demos_are_published(binder: Binder) -> None:
    scripts = binder.call("scripting/script").json()["scripts"]
    assert {s["name"] for s in scripts} == DEMOS
    assert all(s["version"] == 1 for s in scripts)


def test_hello(binder: Binder) -> None:
    answer = binder.call(
        f"scripting/script/{binder.script_id('hello')}/run",
        "POST",
        json.dumps({"name": "John Smith"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert (answer.status, answer.body) == (200, b"Hello John Smith!")


def test_json_api(binder: Binder) -> None:
    path = f"scripting/script/{binder.script_id('json_api')}/run"
    headers = {"Content-Type": "application/json"}
    good = binder.call(path, "POST", b'{"value": 100, "unit": "C"}', headers)
    assert good.status == 200, good.body
    assert good.headers["Content-Type"].startswith("application/json")
    assert good.json()["fahrenheit"] == 212.0

    bad = binder.call(path, "POST", b'{"value": 1}', headers)
    assert bad.status == 422
    assert bad.headers["Content-Type"].startswith("application/json")
    assert bad.json()["message"] == "unit: missing"


def test_html_report(binder: Binder) -> None:
    answer = binder.call(f"scripting/script/{binder.script_id('html_report')}/run?years=4")
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.body.count(b"<tr><td>") == 4


def test_chart_as_png(binder: Binder) -> None:
    answer = binder.call(
        f"scripting/script/{binder.script_id('chart')}/run?values=1,2,3",
        headers={"Accept": "image/png"},
    )
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.body.startswith(PNG_SIGNATURE)


def test_slow_job_in_the_background(binder: Binder) -> None:
    script_id = binder.script_id("slow_job")
    queued = binder.call(f"scripting/script/{script_id}/background?seconds=1", "POST", b"")
    assert queued.status == 202, queued.body
    log = f"scripting/log/script/{script_id}/execution/{queued.json()['executionId']}"
    deadline = time.monotonic() + 60
    while (answer := binder.call(log)).status == 202:
        assert time.monotonic() < deadline, answer.body
        time.sleep(0.3)
    assert answer.status == 200, answer.body
    assert answer.json()["message"] == "done"
    assert answer.json()["steps"] == 1
