"""The CLI's typed API client against a real server, and its parser and store
configuration in-process (no subprocess per command, so they are fast).

The API client is synchronous (urllib), so it talks to a real ``jupyter_server`` process
(``ServerProcess``), shared by the module; nothing of the server is mocked.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_scripting.cli import EXTENSION_CONFIG_FILE, run_command
from jupyter_scripting.cli.api import (
    MAX_PAGE,
    SEE_SCRIPTS,
    RunRequest,
    ScriptingAPI,
    metadata_script_id,
)
from jupyter_scripting.cli.client import Client, ServerError
from jupyter_scripting.cli.errors import EXIT_CODES, CommandError, ServerUnreachable
from jupyter_scripting.cli.keys import ROLES_TEXT
from jupyter_scripting.cli.models import (
    CreatedKeyModel,
    ExecutionModel,
    KeyModel,
    ScriptListItem,
    ScriptModel,
)
from jupyter_scripting.cli.options import count, log_level, positive, version
from jupyter_scripting.cli.parser import build_parser, command_word, uses_server
from jupyter_scripting.rules import API_KEY_PREFIX, ROLES, is_api_key_id, parse_api_key

from .helpers import load_notebook, notebook_of
from .server_process import TOKEN, ServerProcess, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("cli-api-server")) as process:
        yield process


@pytest.fixture
def api(server: ServerProcess) -> ScriptingAPI:
    return ScriptingAPI(Client(f"http://127.0.0.1:{server.port}", TOKEN))


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def finished(api: ScriptingAPI, script_id: str, execution_id: str) -> Any:
    """The log's answer for the execution once it is finished."""
    deadline = time.monotonic() + 60
    while (answer := api.execution(script_id, execution_id)).status == 202:
        assert time.monotonic() < deadline, answer.json()
        time.sleep(0.2)
    return answer


# -- the API client, against the server ----------------------------------------------------
def test_publish_and_list_answer_the_servers_models(api: ScriptingAPI) -> None:
    name = unique("api-publish")
    first = api.publish(load_notebook("nothing"), name)
    assert first.created
    assert set(first.script) == ScriptModel.__required_keys__
    assert (first.script["name"], first.script["version"]) == (name, 1)
    script_id = first.script["scriptId"]

    # Same name: a new version; the id in the metadata wins over the name.
    second = api.publish(load_notebook("nothing"), name)
    assert (second.created, second.script["scriptId"], second.script["version"]) == (
        False,
        script_id,
        2,
    )
    tagged = {
        **load_notebook("nothing"),
        "metadata": {"jupyter_scripting": {"scriptId": script_id}},
    }
    assert metadata_script_id(tagged) == script_id
    again = api.publish(tagged, unique("other-name"))
    assert (again.created, again.script["scriptId"], again.script["version"]) == (
        False,
        script_id,
        3,
    )
    assert again.script["name"] == name  # a new version keeps its name unless renamed
    renamed = api.publish(load_notebook("nothing"), name + "-renamed", script_id=script_id,
                          rename=True)  # fmt: skip
    assert (renamed.script["version"], renamed.script["name"]) == (4, name + "-renamed")

    listed = {s["scriptId"]: s for s in api.list_scripts()}
    assert set(listed[script_id]) == ScriptListItem.__required_keys__
    assert listed[script_id]["version"] == 4
    assert listed[script_id]["lastExecution"] is None
    page = api.scripts(limit=1)
    assert len(page["scripts"]) == 1
    assert page["moreElements"] is (len(listed) > 1)

    assert api.find_script(str(uuid.uuid4())) is None
    with pytest.raises(ServerError) as refused:
        api.update_script(str(uuid.uuid4()), load_notebook("nothing"))
    assert refused.value.status == 404
    assert str(refused.value).endswith(SEE_SCRIPTS)


def test_publish_refuses_an_ambiguous_name(api: ScriptingAPI) -> None:
    name = unique("twice")
    ids = [api.create_script(name, load_notebook("nothing"))["scriptId"] for _ in range(2)]
    with pytest.raises(CommandError) as ambiguous:
        api.publish(load_notebook("nothing"), name)
    assert f"2 scripts are named {name!r}" in str(ambiguous.value)
    assert all(script_id in str(ambiguous.value) for script_id in ids)
    with pytest.raises(ServerError) as invalid:
        api.create_script(unique("broken"), {"nbformat": 4, "cells": "no"})
    assert invalid.value.status == 400
    assert invalid.value.reason == "bad-request"


def test_metadata_ids_are_only_uuids() -> None:
    script_id = str(uuid.uuid4())
    for value in (None, "", 42, "not-a-uuid", script_id.upper()):
        assert metadata_script_id({"metadata": {"jupyter_scripting": {"scriptId": value}}}) is None
    assert metadata_script_id({"metadata": "nonsense"}) is None
    assert metadata_script_id({}) is None
    assert metadata_script_id({"metadata": {"jupyter_scripting": {"scriptId": script_id}}})


def test_runs_answer_the_scripts_answer(api: ScriptingAPI) -> None:
    echo = api.create_script(unique("echo"), load_notebook("echo"))["scriptId"]
    request = RunRequest(body=b"a,b\n", headers={"Content-Type": "text/csv"}, query=[("n", "1")])
    assert request.http_method == "POST"
    assert RunRequest().http_method == "GET"
    answer = api.run(echo, request)
    assert answer.status == 200
    execution = answer.header("X-Execution-Id")
    assert execution is not None
    seen = answer.json()
    assert (seen["method"], seen["content_type"], seen["text"], seen["query"]) == (
        "POST",
        "text/csv",
        "a,b\n",
        {"n": ["1"]},
    )
    assert api.run_hint(echo, answer) is None

    # The script's own failure is its answer (with a hint to its log), not an exception.
    raises = api.create_script(unique("raises"), load_notebook("raises"))["scriptId"]
    failed = api.run(raises)
    assert failed.status == 502
    document = failed.error_document()
    assert document is not None and document["reason"] == "script-error"
    hint = api.run_hint(raises, failed)
    assert hint == f"Its log: jupyter scripting logs {raises} {failed.header('X-Execution-Id')}"

    # The server's refusal is an exception: no script ran.
    with pytest.raises(ServerError) as missing:
        api.run(str(uuid.uuid4()))
    assert missing.value.status == 404
    assert missing.value.execution_id is None
    assert str(missing.value).endswith(SEE_SCRIPTS)

    # The log has the synchronous run, newest first, in the server's model.
    latest = api.latest_execution(echo)
    assert latest is not None
    assert set(latest) == ExecutionModel.__required_keys__
    assert (latest["executionId"], latest["mode"], latest["statusCode"]) == (execution, "sync", 200)
    assert api.executions(echo, version="all")["filteredLogs"] == [latest]
    assert (
        api.latest_execution(api.create_script(unique("never"), notebook_of("1"))["scriptId"])
        is None
    )


def test_background_runs_and_their_logs(api: ScriptingAPI) -> None:
    hello = api.create_script(unique("hello"), load_notebook("hello"))["scriptId"]
    queued = api.run_background(hello, RunRequest(body=json.dumps({"name": "Ada"}).encode()))
    assert queued.location == (
        f"{api.url}/scripting/log/script/{hello}/execution/{queued.execution_id}"
    )
    answer = finished(api, hello, queued.execution_id)
    assert (answer.status, answer.header("X-Execution-Status"), answer.body) == (
        200,
        "200",
        b"Hello Ada!",
    )
    notebook = api.execution(hello, queued.execution_id, notebook=True).json()
    assert notebook["nbformat"] == 4
    page = api.executions(hello, limit=1)
    assert [e["executionId"] for e in page["filteredLogs"]] == [queued.execution_id]
    assert page["moreElements"] is False
    assert api.executions(hello, offset=1)["filteredLogs"] == []

    with pytest.raises(ServerError) as missing:
        api.execution(hello, str(uuid.uuid4()), hint_404="See the log.")
    assert missing.value.status == 404
    assert str(missing.value).endswith("\nSee the log.")
    with pytest.raises(ServerError) as unknown:
        api.run_background(str(uuid.uuid4()))
    assert unknown.value.status == 404


def test_keys(api: ScriptingAPI) -> None:
    user = unique("ada")
    created = api.create_key(user, "runner")
    assert set(created) == CreatedKeyModel.__required_keys__
    assert parse_api_key(created["key"]) is not None
    assert created["key"].startswith(f"{API_KEY_PREFIX}{created['keyId']}_")
    assert is_api_key_id(created["keyId"])
    assert (created["user"], created["role"], created["revokedAt"]) == (user, "runner", None)
    listed = {k["keyId"]: k for k in api.list_keys()}
    assert set(listed[created["keyId"]]) == KeyModel.__required_keys__  # never the key

    # The key is a token, within its role; once revoked, it is refused.
    runner = ScriptingAPI(Client(api.url, created["key"]))
    with pytest.raises(ServerError) as forbidden:
        runner.executions(str(uuid.uuid4()))
    assert forbidden.value.status == 403
    api.revoke_key(created["keyId"])
    assert {k["keyId"]: k for k in api.list_keys()}[created["keyId"]]["revokedAt"]
    with pytest.raises(ServerError) as revoked:
        runner.list_scripts()
    assert revoked.value.status == 401

    with pytest.raises(ServerError) as bad_role:
        api.create_key(user, "owner")
    assert bad_role.value.status == 400
    with pytest.raises(ServerError) as missing:
        api.revoke_key("0123456789abcdef")
    assert missing.value.status == 404
    assert "key list" in str(missing.value)


def test_unreachable() -> None:
    api = ScriptingAPI(Client(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=5))
    with pytest.raises(ServerUnreachable, match="Could not reach the server at"):
        api.list_scripts()


# -- the parser -------------------------------------------------------------------------------
def test_option_types() -> None:
    assert positive("0.5") == 0.5
    assert count("0") == 0
    assert version("3") == "3"
    assert version("all") == "all"
    assert log_level("debug") == 10
    assert log_level("40") == 40
    for parse, text in [
        (positive, "0"), (positive, "soon"), (count, "-1"), (count, "1.5"),
        (version, "0"), (version, "latest"), (log_level, "LOUD"), (log_level, "15"),
    ]:  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_the_parser_finds_each_command_and_its_options() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["--url", "http://h", "--json", "run", "ID", "-X", "get", "-H", "A: b"]
    )
    assert (args.command, args.url, args.json, args.method, args.header) == (
        "run", "http://h", True, "GET", ["A: b"],
    )  # fmt: skip
    assert not hasattr(args, "token")  # not given: the environment decides
    args = parser.parse_args(["key", "create", "--user", "u", "--role", "runner", "--debug"])
    assert (args.key_command, args.log_level, args.tenant, args.database_url) == (
        "create", 10, None, None,
    )  # fmt: skip
    args = parser.parse_args(["key", "list", "--ScriptingApp.database_url=sqlite:///x"])
    assert args.database_url == "sqlite:///x"
    for argv in (["key", "create", "--user", "u"], ["key", "revoke"], ["logs"], ["frobnicate"]):
        with pytest.raises(SystemExit) as refused:
            parser.parse_args(argv)
        assert refused.value.code == 2

    assert command_word(["--url", "u", "--json", "key", "list"]) == ("key", 3)
    assert command_word(["--json"]) == (None, -1)
    assert uses_server(["key", "list", "--url=http://h"])


def test_every_command_says_its_exit_statuses_and_the_roles_come_from_the_rules() -> None:
    parser = build_parser()

    def leaves(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
        actions = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for action in actions:
            for sub in action.choices.values():
                yield sub
                yield from leaves(sub)

    # The worker is listed only: its options and help are the server's (traitlets').
    commands = [c for c in leaves(parser) if not c.prog.endswith(" worker")]
    assert len(commands) == len(list(leaves(parser))) - 1
    assert {c.prog.removeprefix("jupyter scripting ") for c in commands} == {
        "publish", "list", "show", "run", "logs", "key", "key create", "key list", "key revoke",
        "schedule", "schedule list", "schedule add", "schedule pause", "schedule resume",
        "schedule delete", "webhook", "webhook show", "webhook set", "webhook clear",
        "webhook deliveries", "webhook secret", "secret", "secret list", "secret set",
        "secret show", "secret delete", "secret use", "retries",
    }  # fmt: skip
    assert all(c.epilog and c.epilog.endswith(EXIT_CODES) for c in commands)
    assert all(role in ROLES_TEXT for role in ROLES)
    logs = next(c for c in commands if c.prog.endswith(" logs"))
    assert f"at most {MAX_PAGE}" in logs.format_help()


def test_store_options_are_refused_through_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # never reached: refused before
    for option in (["--config", "x.py"], ["--ScriptingApp.database_url", ""], ["--debug"],
                   ["--show-config"], ["--tenant", "acme"]):  # fmt: skip
        with pytest.raises(SystemExit) as refused:
            run_command(["key", "list", "--url", url, *option])
        assert refused.value.code == 2
        assert "is for the store (without --url)" in capsys.readouterr().err
    with pytest.raises(CommandError, match="Write the options after the key command"):
        run_command(["--json", "key", "list"])


def test_the_http_commands_import_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "from jupyter_scripting.cli.parser import build_parser\n"
        "build_parser().parse_args(['key', 'list'])\n"
        "heavy = {'tornado', 'jupyter_server', 'sqlalchemy', 'traitlets', 'zmq', 'jupyter_core'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done


# -- the store's configuration ------------------------------------------------------------------
@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(directory))
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return directory


def url_in(directory: Path, name: str, url: str) -> None:
    if name.endswith(".json"):
        (directory / name).write_text(json.dumps({"ScriptingApp": {"database_url": url}}))
    else:
        (directory / name).write_text(f"c.ScriptingApp.database_url = {url!r}\n")


def test_the_store_reads_the_servers_configuration(config_dir: Path, tmp_path: Path) -> None:
    from jupyter_scripting.cli.store import read_server_config
    from jupyter_scripting.paths import default_database_url

    assert read_server_config().database_url() == default_database_url()
    url_in(config_dir, f"{EXTENSION_CONFIG_FILE}.py", "sqlite:///extension")
    assert read_server_config().database_url() == "sqlite:///extension"
    url_in(config_dir, "jupyter_server_config.py", "sqlite:///server-py")
    assert read_server_config().database_url() == "sqlite:///server-py"
    url_in(config_dir, "jupyter_server_config.json", "sqlite:///server-json")  # .json wins
    config = read_server_config()
    assert config.database_url() == "sqlite:///server-json"
    assert [Path(f).name for f in config.files][-2:] == [
        "jupyter_server_config.py",
        "jupyter_server_config.json",
    ]
    assert read_server_config(database_url="sqlite:///cli").database_url() == "sqlite:///cli"

    # --config replaces jupyter_server_config (and its .json sibling is read with it).
    given = tmp_path / "given.py"
    url_in(tmp_path, "given.py", "sqlite:///given")
    assert read_server_config(str(given)).database_url() == "sqlite:///given"
    with pytest.raises(CommandError, match="No configuration file"):
        read_server_config(str(tmp_path / "missing.py"))

    (config_dir / "jupyter_server_config.json").write_text('{"ScriptingApp": {"database_url": 5}}')
    with pytest.raises(CommandError, match=r"Bad configuration: ScriptingApp\.database_url = 5"):
        read_server_config().database_url()
    (config_dir / "jupyter_server_config.py").write_text("c.ScriptingApp.database_url = (\n")
    with pytest.raises(
        CommandError, match="Could not load the configuration jupyter_server_config"
    ):
        read_server_config()


def test_show_config(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_scripting.cli.store import read_server_config

    url_in(config_dir, "jupyter_server_config.py", "sqlite:///shown")
    config = read_server_config()
    config.show()
    text = capsys.readouterr().out
    assert text.startswith("Loaded config files:\n")
    assert "ScriptingApp\n  .database_url = 'sqlite:///shown'\n" in text
    config.show(as_json=True)
    assert json.loads(capsys.readouterr().out)["ScriptingApp"] == {
        "database_url": "sqlite:///shown"
    }
