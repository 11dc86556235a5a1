"""Tenant variables and secrets (README, "Variables and secrets"): the names and values
the API takes, the masking of a secret's value, the routes (a secret's value is
write-only; another tenant sees nothing), and real runs that read them as
``secrets["NAME"]`` and environment variables while no log surface (the answer, the
executed notebook, the error document, the live events, the store's rows) holds a
secret's value."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from jupyter_scripting import variables
from jupyter_scripting.crypto import Keyring
from jupyter_scripting.errors import BadRequest, VariableNotFound
from jupyter_scripting.store import Store
from jupyter_scripting.variables import MASK, Masker

from . import test_store
from .helpers import body_json, notebook_of, scripting_app, server_config
from .test_background import wait_finished

backend = test_store.backend
clock = test_store.clock
store = test_store.store

#: A secret with characters JSON and repr escape, so their escaped forms are masked too.
SECRET = 'tok-"quoted"\\-ü-4f9a'


# -- names, values, masking ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["A", "_x", "API_TOKEN", "a1", "x" * 128])
def test_a_variable_name_is_an_environment_variable_name(name: str) -> None:
    assert variables.variable_name(name) == name


@pytest.mark.parametrize("name", ["", "1A", "A-B", "A B", "é", "x" * 129, "../etc", 7, None])
def test_other_names_are_refused(name: object) -> None:
    with pytest.raises(BadRequest, match="not a variable name"):
        variables.variable_name(name)


def test_a_value_is_a_string_and_a_secret_by_default() -> None:
    assert variables.parse_value({"value": "abcd"}) == variables.VariableValue("abcd", True)
    plain = variables.parse_value({"value": "", "secret": False})
    assert plain == variables.VariableValue("", False)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("abcd", "JSON object"),
        ({}, '"value" must be a string'),
        ({"value": 5}, '"value" must be a string'),
        ({"value": "abcd", "secret": "yes"}, '"secret" must be true or false'),
        ({"value": "abcd", "colour": "red"}, "Unknown fields: colour"),
        ({"value": "a\x00b", "secret": False}, "NUL"),
        ({"value": "abc"}, "at least 4 characters"),
        ({"value": "x" * (variables.MAX_VALUE_BYTES + 1)}, "at most 65536 bytes"),
        ({"value": "\ud800abcd"}, "lone surrogates"),
    ],
)
def test_bad_values_are_refused_with_what_is_wrong(body: object, problem: str) -> None:
    with pytest.raises(BadRequest, match=problem):
        variables.parse_value(body)


def test_a_script_asks_for_names_once_each_in_its_order() -> None:
    assert variables.script_variables(["B", "A", "B"]) == ("B", "A")
    assert variables.script_variables(None) == ()
    with pytest.raises(BadRequest, match="list of variable names"):
        variables.script_variables("A")
    with pytest.raises(BadRequest, match="not a variable name"):
        variables.script_variables(["A", "no-dash"])
    with pytest.raises(BadRequest, match="at most 50"):
        variables.script_variables([f"V{i}" for i in range(51)])


def test_the_masker_masks_a_secret_as_written_and_as_json_and_repr_escape_it() -> None:
    masker = Masker([SECRET, ""])
    assert masker.text(f"a {SECRET} b") == f"a {MASK} b"
    assert masker.text(json.dumps({"t": SECRET})) == '{"t": "***"}'
    assert masker.text(json.dumps({"t": SECRET}, ensure_ascii=False)) == '{"t": "***"}'
    assert masker.text(repr(SECRET)) == f"'{MASK}'"
    assert masker.data(f"[{SECRET}]".encode()) == b"[***]"
    tree: dict[str, Any] = {"a": [SECRET, 1, {"b": f"x{SECRET}"}], "n": None}
    assert masker.tree(tree) == {"a": [MASK, 1, {"b": f"x{MASK}"}], "n": None}
    assert not Masker([]) and Masker([]).text(SECRET) == SECRET


def test_a_secret_inside_another_is_not_masked_by_halves() -> None:
    masker = Masker(["abcd", "xxabcdxx"])
    assert masker.text("xxabcdxx and abcd") == f"{MASK} and {MASK}"


# -- the store -------------------------------------------------------------------------------
async def test_the_store_keeps_variables_per_tenant_encrypted(store: Store) -> None:
    keyring = Keyring(Fernet.generate_key().decode())
    first, created = await store.put_variable("t1", "TOKEN", keyring.encrypt("one-1"), secret=True)
    assert created and first.value is None and first.secret
    again, created = await store.put_variable("t1", "TOKEN", keyring.encrypt("two-2"), secret=False)
    assert not created and not again.secret and again.created_at == first.created_at
    await store.put_variable("t1", "A", keyring.encrypt("a"), secret=False)
    await store.put_variable("t2", "TOKEN", keyring.encrypt("other"), secret=True)
    assert [v.name for v in await store.list_variables("t1")] == ["A", "TOKEN"]
    assert all(v.value is None for v in await store.list_variables("t1"))
    read = await store.get_variable("t1", "TOKEN")
    assert read.value is not None and keyring.decrypt(read.value) == "two-2"
    found = await store.read_variables("t1", ["TOKEN", "MISSING"])
    assert [(v.name, keyring.decrypt(v.value or b"")) for v in found] == [("TOKEN", "two-2")]
    await store.delete_variable("t1", "TOKEN")
    with pytest.raises(VariableNotFound):
        await store.get_variable("t1", "TOKEN")
    with pytest.raises(VariableNotFound):
        await store.delete_variable("t1", "TOKEN")
    other = await store.get_variable("t2", "TOKEN")  # the other tenant's is untouched
    assert keyring.decrypt(other.value or b"") == "other"


# -- the routes ------------------------------------------------------------------------------
@pytest.fixture
def jp_server_config(tmp_path: Path) -> Any:
    return server_config(
        sync_timeout=30.0,
        queue_poll_interval=0.2,
        database_url=f"sqlite:///{tmp_path / 'store' / 'scripting.sqlite'}",
    )


def put(api: Any, name: str, value: str, secret: bool = True, **kwargs: Any) -> Any:
    body = json.dumps({"value": value, "secret": secret})
    return api("scripting", "variables", name, method="PUT", body=body, **kwargs)


async def test_variables_are_set_listed_read_and_deleted_and_secrets_stay_write_only(api):
    created = await put(api, "API_TOKEN", SECRET)
    assert created.code == 201
    doc = body_json(created)
    assert set(doc) == {"name", "secret", "createdAt", "updatedAt"} and doc["secret"] is True
    region = await put(api, "REGION", "eu-1", secret=False)
    assert region.code == 201
    replaced = await put(api, "REGION", "eu-2", secret=False)
    assert replaced.code == 200
    assert body_json(replaced)["createdAt"] == body_json(region)["createdAt"]

    listing = await api("scripting", "variables")
    assert listing.code == 200
    assert [v["name"] for v in body_json(listing)["variables"]] == ["API_TOKEN", "REGION"]
    assert SECRET.encode() not in listing.body and b"eu-2" not in listing.body
    assert all("value" not in v for v in body_json(listing)["variables"])

    plain = body_json(await api("scripting", "variables", "REGION"))
    assert plain["value"] == "eu-2" and plain["secret"] is False
    secret = await api("scripting", "variables", "API_TOKEN")
    assert secret.code == 200 and "value" not in body_json(secret)
    assert b"quoted" not in secret.body

    assert (await api("scripting", "variables", "REGION", method="DELETE")).code == 204
    for method in ("GET", "DELETE"):
        gone = await api("scripting", "variables", "REGION", method=method)
        assert gone.code == 404 and body_json(gone)["reason"] == "not-found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", 400),
        (b'{"value": "abc"}', 400),
        (b'{"value": "abcd", "extra": 1}', 400),
        (b"[]", 400),
    ],
)
async def test_a_bad_put_is_400_with_a_message(api, body: bytes, code: int):
    answer = await api("scripting", "variables", "NAME", method="PUT", body=body)
    assert answer.code == code and body_json(answer)["message"]
    assert (await api("scripting", "variables", "NAME")).code == 404  # nothing was kept


async def test_a_bad_name_is_400_on_put_and_404_when_read(api):
    answer = await put(api, "no-dash", "abcd")
    assert answer.code == 400 and "not a variable name" in body_json(answer)["message"]
    for method in ("GET", "DELETE"):
        assert (await api("scripting", "variables", "..", method=method)).code == 404


async def test_a_script_asks_for_variables_by_name(api, publish):
    script_id = await publish(notebook_of("1"))
    assert body_json(await api("scripting", "script", script_id))["variables"] == []
    body = json.dumps({"variables": ["B", "A", "B"]})
    patched = await api("scripting", "script", script_id, method="PATCH", body=body)
    assert patched.code == 200 and body_json(patched)["variables"] == ["B", "A"]
    listed = body_json(await api("scripting", "script"))["scripts"][0]
    assert listed["variables"] == ["B", "A"]
    bad = json.dumps({"variables": ["ok", "not ok"]})
    refused = await api("scripting", "script", script_id, method="PATCH", body=bad)
    assert refused.code == 400 and "not a variable name" in body_json(refused)["message"]
    cleared = json.dumps({"variables": None})
    patched = await api("scripting", "script", script_id, method="PATCH", body=cleared)
    assert body_json(patched)["variables"] == []


# -- runs ------------------------------------------------------------------------------------
READS = notebook_of(
    "import os\n"
    "print(secrets['API_TOKEN'])\n"
    "print(repr(secrets))\n"
    "print(sorted(k for k in os.environ if k in ('API_TOKEN', 'REGION', 'OTHER', 'UNSET')))",
    "try:\n"
    "    secrets['UNSET']\n"
    "except KeyError as e:\n"
    "    print(e)\n"
    "try:\n"
    "    secrets['OTHER']\n"
    "except KeyError as e:\n"
    "    print(e)",
    "response.headers['X-Token'] = secrets['API_TOKEN']\n"
    "response.json({'token': secrets['API_TOKEN'], 'region': os.environ['REGION'],\n"
    "               'env': os.environ['API_TOKEN'] == secrets['API_TOKEN']})",
)
RAISES = notebook_of("raise ValueError('the token is ' + secrets['API_TOKEN'])")


async def ask(api: Any, script_id: str, *names: str) -> None:
    body = json.dumps({"variables": list(names)})
    assert (await api("scripting", "script", script_id, method="PATCH", body=body)).code == 200


def store_text(database_url: str) -> str:
    """Every row of every table of the store, as text (bytes decoded where they can be)."""
    engine = sa.create_engine(database_url)
    try:
        parts: list[str] = []
        with engine.connect() as connection:
            metadata = sa.MetaData()
            metadata.reflect(connection)
            for table in metadata.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            value = bytes(value).decode("utf-8", "replace")
                        parts.append(str(value))
        return "\n".join(parts)
    finally:
        engine.dispose()


def leaks(text: str | bytes) -> bool:
    """Whether ``text`` holds the secret in any of the forms the masker masks."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    forms = {SECRET, json.dumps(SECRET)[1:-1], repr(SECRET)[1:-1], "quoted"}
    return any(form in text for form in forms)


@pytest.mark.run_path
async def test_a_run_gets_what_it_asks_for_and_no_surface_shows_a_secret(
    api, publish, jp_serverapp
):
    assert (await put(api, "API_TOKEN", SECRET)).code == 201
    assert (await put(api, "REGION", "eu-1", secret=False)).code == 201
    assert (await put(api, "OTHER", "not-asked-for")).code == 201
    script_id = await publish(READS)
    await ask(api, script_id, "API_TOKEN", "REGION", "UNSET")

    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 200, answer.body
    # The script got the values (it compared them), but the answer shows no secret.
    assert body_json(answer) == {"token": MASK, "region": "eu-1", "env": True}
    assert answer.headers["X-Token"] == MASK
    execution_id = answer.headers["X-Execution-Id"]
    log = ("scripting", "log", "script", script_id, "execution", execution_id)

    notebook = await api(*log, "notebook")
    printed = "".join(
        "".join(output.get("text", ""))
        for cell in body_json(notebook)["cells"]
        for output in cell["outputs"]
    )
    assert printed.splitlines()[:3] == [
        MASK,
        "Secrets(['API_TOKEN', 'REGION'])",  # names only
        "['API_TOKEN', 'REGION']",  # the environment has what it asked for, no more
    ]
    assert "UNSET: the script asks for it, but its tenant has not set it" in printed
    assert 'OTHER: the script does not ask for it (PATCH its "variables")' in printed
    assert not leaks(notebook.body)
    assert not leaks((await api(*log)).body)
    assert not leaks((await api(*log, "events")).body)

    failed = await publish(RAISES, name="raises")
    await ask(api, failed, "API_TOKEN")
    error = await api("scripting", "script", failed, "run", method="POST")
    assert error.code == 502
    assert body_json(error)["message"] == f"The script raised ValueError: the token is {MASK}"
    failed_id = body_json(error)["executionId"]
    failed_log = ("scripting", "log", "script", failed, "execution", failed_id)
    document = await api(*failed_log)
    assert document.headers["X-Execution-Status"] == "502"
    assert f"the token is {MASK}" in body_json(document)["traceback"]
    for surface in (error.body, document.body, (await api(*failed_log, "notebook")).body):
        assert MASK.encode() in surface and not leaks(surface)

    # In the background too: the log's error document and notebook show no secret.
    queued = await api("scripting", "script", failed, "background", method="POST")
    assert queued.code == 202
    background = body_json(queued)["executionId"]
    finished = await wait_finished(api, failed, background)
    assert finished.headers["X-Execution-Status"] == "502" and not leaks(finished.body)
    assert MASK in body_json(finished)["message"]
    bg_log = ("scripting", "log", "script", failed, "execution", background)
    assert not leaks((await api(*bg_log, "notebook")).body)
    assert not leaks((await api(*bg_log, "events")).body)

    # Nor does any row of the store: the values are encrypted, the outputs masked.
    app = scripting_app(jp_serverapp)
    rows = await asyncio.to_thread(store_text, app.database_url)
    assert "eu-1" in rows  # the plain variable's value, in the runs' answer
    assert not leaks(rows) and "not-asked-for" not in rows


async def test_another_tenant_sees_none_of_them_and_its_runs_get_its_own(
    api, publish, jp_serverapp
):
    assert (await put(api, "API_TOKEN", SECRET)).code == 201
    app = scripting_app(jp_serverapp)
    await app.service.ensure_ready()
    _, key = await app.store.create_api_key("acme", "dev", "developer")
    acme = {"headers": {"Authorization": f"Bearer {key}"}}

    listing = await api("scripting", "variables", **acme)
    assert listing.code == 200 and body_json(listing) == {"variables": []}
    for method in ("GET", "DELETE"):
        hidden = await api("scripting", "variables", "API_TOKEN", method=method, **acme)
        assert hidden.code == 404 and body_json(hidden)["reason"] == "not-found"
    assert (await put(api, "API_TOKEN", "acme-value", secret=False, **acme)).code == 201
    # Its own value is not the first tenant's, which is unchanged.
    assert body_json(await api("scripting", "variables", "API_TOKEN", **acme))["value"] == (
        "acme-value"
    )
    assert "value" not in body_json(await api("scripting", "variables", "API_TOKEN"))
    response = await api(
        "scripting",
        "script",
        method="POST",
        body=json.dumps({"name": "acme's", "notebook": notebook_of("print(secrets['API_TOKEN'])")}),
        **acme,
    )
    assert response.code == 201
    script_id = body_json(response)["scriptId"]
    patched = await api(
        "scripting",
        "script",
        script_id,
        method="PATCH",
        body=json.dumps({"variables": ["API_TOKEN"]}),
        **acme,
    )
    assert patched.code == 200
    answer = await api("scripting", "script", script_id, "run", method="POST", **acme)
    assert answer.code == 200 and answer.body == b"acme-value"
    # A runner key may run scripts, not read or set variables.
    _, runner = await app.store.create_api_key("acme", "bot", "runner")
    as_runner = {"headers": {"Authorization": f"Bearer {runner}"}}
    assert (await api("scripting", "variables", **as_runner)).code == 403
    assert (await put(api, "X_Y", "abcd", **as_runner)).code == 403


async def test_a_value_this_nodes_key_cannot_read_fails_the_run_in_its_log(
    api, publish, jp_serverapp
):
    app = scripting_app(jp_serverapp)
    await app.service.ensure_ready()
    elsewhere = Keyring(Fernet.generate_key().decode())  # another node's key
    await app.store.put_variable("default", "API_TOKEN", elsewhere.encrypt(SECRET), secret=True)
    script_id = await publish(notebook_of("print(secrets['API_TOKEN'])"))
    await ask(api, script_id, "API_TOKEN")
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 500 and body_json(answer)["reason"] == "secret-unreadable"
    assert "secret_key" in body_json(answer)["message"]
    log = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert [(e["statusCode"], e["state"]) for e in log] == [(500, "failed")]
    queued = await api("scripting", "script", script_id, "background", method="POST")
    finished = await wait_finished(api, script_id, body_json(queued)["executionId"])
    assert finished.headers["X-Execution-Status"] == "500"
    assert body_json(finished)["reason"] == "secret-unreadable"
