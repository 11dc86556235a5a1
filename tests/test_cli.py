"""``jupyter scripting key …``: the real command in a subprocess, on a real store.

Each command imports jupyter_server (to read ``ScriptingApp.database_url`` exactly as the
server does), which takes a few seconds: the tests keep the number of runs small.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_scripting.app import ScriptingApp
from jupyter_scripting.cli import EXTENSION_CONFIG_FILE
from jupyter_scripting.store import Store
from jupyter_scripting.store.records import ApiKeyRecord

KEY = re.compile(r"jsk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")
#: How long one command may take (it imports jupyter_server; CI machines can be busy).
COMMAND_TIMEOUT = 60


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass
class Cli:
    """The command with its own Jupyter data and config directories."""

    data_dir: Path
    config_dir: Path
    cwd: Path

    @property
    def default_database(self) -> Path:
        return self.data_dir / "scripting" / "jupyter_scripting.sqlite"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("JUPYTER_") and k != "JUPYTERHUB_API_TOKEN"
        }
        env.update(
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_RUNTIME_DIR=str(self.data_dir / "runtime"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def run(self, *args: str, command: list[str] | None = None) -> Result:
        argv = command or [sys.executable, "-m", "jupyter_scripting.cli"]
        done = subprocess.run(
            [*argv, *args],
            env=self.env(),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.returncode == 0, result
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def fails(self, *args: str, code: int = 1) -> str:
        """Run a command that must fail cleanly; returns its complaint."""
        result = self.run(*args)
        assert result.returncode == code, result
        assert "Traceback" not in result.stderr, result.stderr
        assert "Traceback" not in result.stdout, result.stdout
        assert result.stderr.strip(), result
        return result.stderr.strip()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Cli(tmp_path / "data", tmp_path / "config", cwd)


def authenticate(database: Path, key: str) -> ApiKeyRecord | None:
    """Check ``key`` the way the server does, on the SQLite file ``database``."""

    async def check() -> ApiKeyRecord | None:
        store = Store(f"sqlite:///{database}")
        await store.start()
        try:
            return await store.authenticate_api_key(key)
        finally:
            await store.close()

    return asyncio.run(check())


def created_key(result: Result) -> str:
    """The key a ``key create`` printed: alone, on the last line."""
    assert KEY.fullmatch(result.lines[-1]), result.stdout
    return result.lines[-1]


# -- help ---------------------------------------------------------------------------
def test_help(cli: Cli) -> None:
    top = cli.ok("--help")
    for command in ("publish", "list", "run", "logs", "key"):
        assert command in top.stdout
    assert "exit status" in top.stdout
    key = cli.ok("key", "--help")
    for command in ("create", "list", "revoke"):
        assert command in key.stdout
    create = cli.ok("key", "create", "--help")
    for option in ("--tenant", "--user", "--role", "--json"):
        assert option in create.stdout
    assert "Give a subcommand" in cli.fails("key", code=2)


def test_jupyter_dispatches_to_the_installed_command(cli: Cli) -> None:
    bin_dir = Path(sys.executable).parent
    jupyter = shutil.which("jupyter", path=str(bin_dir))
    installed = shutil.which("jupyter-scripting", path=str(bin_dir))
    if jupyter is None or installed is None:
        pytest.skip("jupyter or jupyter-scripting is not installed next to this Python")
    result = cli.run("scripting", "key", "--help", command=[jupyter])
    assert result.returncode == 0, result
    assert "revoke" in result.stdout


# -- create, list, authenticate, revoke ----------------------------------------------
def test_create_prints_the_key_last_and_it_authenticates(cli: Cli) -> None:
    result = cli.ok("key", "create", "--tenant", "acme", "--user", "ada", "--role", "developer")
    key = created_key(result)
    record = authenticate(cli.default_database, key)
    assert record is not None
    assert (record.tenant, record.user, record.role) == ("acme", "ada", "developer")
    human = "\n".join(result.lines[:-1])
    for word in (record.id, "acme", "ada", "developer"):
        assert word in human
    assert key not in human

    # --json: one object, with the key; --tenant defaults to "default".
    result = cli.ok("key", "create", "--user", "bo", "--role", "runner", "--json")
    model = json.loads(result.stdout)
    assert set(model) == {"keyId", "tenant", "user", "role", "createdAt", "revokedAt", "key"}
    assert (model["tenant"], model["user"], model["role"], model["revokedAt"]) == (
        "default",
        "bo",
        "runner",
        None,
    )
    second = authenticate(cli.default_database, model["key"])
    assert second is not None
    assert second.id == model["keyId"]

    # The list shows both, never a secret.
    listing = cli.ok("key", "list")
    assert record.id in listing.stdout
    assert model["keyId"] in listing.stdout
    assert "jsk_" not in listing.stdout
    assert key.rsplit("_", 1)[-1] not in listing.stdout
    header = listing.lines[0].split()
    assert header == ["ID", "TENANT", "USER", "ROLE", "CREATED", "REVOKED"]
    acme = json.loads(cli.ok("key", "list", "--tenant", "acme", "--json").stdout)
    assert [k["keyId"] for k in acme["keys"]] == [record.id]
    assert "key" not in acme["keys"][0]


def test_revoke(cli: Cli) -> None:
    key = created_key(cli.ok("key", "create", "--user", "ada", "--role", "admin"))
    record = authenticate(cli.default_database, key)
    assert record is not None

    # Another tenant's key is not found; an unknown id neither: exit 1, a clear message.
    assert "No API key" in cli.fails("key", "revoke", record.id, "--tenant", "elsewhere")
    assert authenticate(cli.default_database, key) == record
    message = cli.fails("key", "revoke", "0123456789abcdef")
    assert "No API key" in message
    assert "0123456789abcdef" in message

    result = cli.ok("key", "revoke", record.id)
    assert record.id in result.stdout
    assert "revoked" in result.stdout
    assert authenticate(cli.default_database, key) is None
    listing = json.loads(cli.ok("key", "list", "--json").stdout)
    assert listing["keys"][0]["revokedAt"] is not None


# -- which database ---------------------------------------------------------------------
def test_database_url_on_the_command_line(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    result = cli.ok(
        "key",
        "create",
        "--user",
        "ada",
        "--role",
        "runner",
        f"--ScriptingApp.database_url=sqlite:///{other}",
    )
    key = created_key(result)
    assert authenticate(other, key) is not None
    assert not cli.default_database.exists()


def test_server_config_file_is_honoured_and_the_command_line_wins(cli: Cli, tmp_path: Path) -> None:
    configured = tmp_path / "configured.sqlite"
    cli.config_dir.mkdir()
    (cli.config_dir / "jupyter_server_config.py").write_text(
        f"c.ScriptingApp.database_url = {f'sqlite:///{configured}'!r}\n"
    )
    key = created_key(cli.ok("key", "create", "--user", "ada", "--role", "admin"))
    assert authenticate(configured, key) is not None
    assert not cli.default_database.exists()

    override = tmp_path / "override.sqlite"
    key = created_key(
        cli.ok(
            "key",
            "create",
            "--user",
            "ada",
            "--role",
            "admin",
            f"--ScriptingApp.database_url=sqlite:///{override}",
        )
    )
    assert authenticate(override, key) is not None
    assert authenticate(configured, key) is None


def test_json_server_config_is_honoured(cli: Cli, tmp_path: Path) -> None:
    configured = tmp_path / "from-json.sqlite"
    cli.config_dir.mkdir()
    (cli.config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ScriptingApp": {"database_url": f"sqlite:///{configured}"}})
    )
    key = created_key(cli.ok("key", "create", "--user", "ada", "--role", "developer"))
    assert authenticate(configured, key) is not None


def test_the_extension_config_file_is_the_servers() -> None:
    assert ScriptingApp().config_file_name == EXTENSION_CONFIG_FILE


# -- failures -------------------------------------------------------------------------------
def test_bad_arguments_fail_cleanly(cli: Cli) -> None:
    # Usage errors: exit status 2, like the client commands'.
    message = cli.fails("key", "create", "--user", "ada", "--role", "owner", code=2)
    assert "role" in message
    assert "admin" in message
    assert "--role" in cli.fails("key", "create", "--user", "ada", code=2)
    assert "KEY_ID" in cli.fails("key", "revoke", code=2)
    assert not cli.default_database.exists()  # nothing was opened


def test_unreachable_database_fails_cleanly(cli: Cli) -> None:
    pytest.importorskip("psycopg")
    message = cli.fails(
        "key",
        "list",
        # Port 1 on the loopback: refused at once.
        "--ScriptingApp.database_url=postgresql+psycopg://nobody:hunter2@127.0.0.1:1/nothing",
    )
    assert len(message.splitlines()) == 1
    assert "store failed" in message
    assert "127.0.0.1" in message
    assert "hunter2" not in message


def test_broken_config_file_fails_cleanly(cli: Cli) -> None:
    cli.config_dir.mkdir()
    (cli.config_dir / "jupyter_server_config.py").write_text("c.ScriptingApp.database_url = (\n")
    message = cli.fails("key", "list")
    assert "jupyter_server_config" in message
    assert not cli.default_database.exists()  # never fell back to the default database
