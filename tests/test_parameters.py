"""README, "Parameters": papermill's ``parameters`` cell, checked values (422), the
injected cell, the per-script setting and the schema."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import nbformat
import pytest

from jupyter_scripting import parameters
from jupyter_scripting.errors import BadRequest, InvalidParameters

from .helpers import body_json, load_notebook, notebook_of, server_config


@pytest.fixture
def jp_server_config():
    return server_config(sync_timeout=30.0, queue_poll_interval=0.5)


JSON = {"Content-Type": "application/json"}


async def run(api, script_id: str, body: Any = None, *, query: str = "", **kwargs: Any):
    path = ("scripting", "script", script_id, "run")
    if body is None:
        params = dict(pair.split("=", 1) for pair in query.split("&") if pair)
        return await api(*path, method="GET", params=params, **kwargs)
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return await api(*path, method="POST", body=data, headers=dict(kwargs.pop("headers", JSON)))


def typed_output(answer) -> dict[str, Any]:
    assert answer.code == 200, answer.body
    return json.loads(answer.body)


# -- the parameters cell, read without a server ------------------------------------


def test_inspect_reads_names_types_defaults_and_help_like_papermill():
    declared = parameters.inspect(load_notebook("papermill_typed"))
    assert declared is not None
    by_name = {p.name: p for p in declared}
    assert list(by_name) == ["a", "b", "c", "d", "e", "f"]
    assert by_name["a"].types == ("number",) and by_name["a"].default == 2.25
    assert by_name["a"].help == "Variable a"
    assert by_name["b"].types == ("string",) and by_name["b"].annotation is None
    assert by_name["c"].types == ("integer",)
    assert by_name["d"].types == ("array",) and by_name["d"].annotation == "list[str]"
    assert by_name["e"].types == ("boolean",)
    assert by_name["f"].types == ()  # None as default: any value
    assert parameters.inspect(load_notebook("hello")) is None


@pytest.mark.parametrize(
    ("line", "types"),
    [
        ("x: int | None = None", ("integer", "null")),
        ("x: Optional[float] = 1", ("null", "number")),
        ("x: 'str' = 1", ("string",)),
        ("x: typing.List[int] = []", ("array",)),
        ("x: MyType = 1", ()),
        ("x = f(1)", ()),
        ("x = {'a': 1}", ("object",)),
        ("x: Union[int, str] = 1", ("integer", "string")),
    ],
)
def test_types_come_from_annotations_then_defaults(line, types):
    nb = notebook_of(line)
    nb["cells"][0]["metadata"]["tags"] = ["parameters"]
    (declared,) = parameters.inspect(nb) or []
    assert declared.types == types


def test_values_are_checked_and_every_problem_is_named():
    declared = parameters.inspect(load_notebook("papermill_typed")) or []
    body = json.dumps({"a": "x", "c": 1.5, "e": 1, "zzz": 1, "b": "ok"}).encode()
    with pytest.raises(InvalidParameters) as caught:
        parameters.values_of(declared, "strict", body, "application/json", {})
    problems = {p["name"]: p["problem"] for p in caught.value.problems}
    assert problems == {
        "a": "must be a number, not a string",
        "c": "must be an integer, not a number",
        "e": "must be true or false, not an integer",
        "zzz": "unknown parameter (this script takes: a, b, c, d, e, f)",
    }
    # Lenient (papermill's way): unknown names are injected unchecked, but for those that
    # are no Python names (left to ``request``); declared ones are still checked.
    body = b'{"zzz": [1], "c": 2, "not-a-name": 1, "class": 1}'
    values = parameters.values_of(declared, "lenient", body, "application/json", {})
    assert values == {"zzz": [1], "c": 2}
    with pytest.raises(BadRequest):
        parameters.values_of(declared, "strict", b"{nope", "application/json", {})
    for not_an_object in (b"[1, 2]", b"null", b'"text"'):
        with pytest.raises(InvalidParameters):
            parameters.values_of(declared, "strict", not_an_object, "application/json", {})
    with pytest.raises(InvalidParameters):  # 1e400 reads as infinity: not a value
        parameters.values_of(declared, "strict", b'{"a": 1e400}', "application/json", {})


def test_text_values_are_read_as_their_parameters_types():
    declared = parameters.inspect(load_notebook("papermill_typed")) or []
    query = {"a": ["3"], "c": ["7"], "e": ["false"], "d": ['["x", "y"]'], "b": ["12"]}
    values = parameters.values_of(declared, "strict", b"", None, query)
    assert values == {"a": 3, "c": 7, "e": False, "d": ["x", "y"], "b": "12"}
    # curl -d '{...}' without a Content-Type sends a form-encoded JSON object.
    form = "application/x-www-form-urlencoded"
    assert parameters.values_of(declared, "strict", b'{"c": 4}', form, {}) == {"c": 4}
    assert parameters.values_of(declared, "strict", b"c=5&b=hi", form, {}) == {"c": 5, "b": "hi"}
    # A body of another kind is the script's own.
    assert parameters.values_of(declared, "strict", b"c,d\n1,2", "text/csv", {}) == {}
    # The body wins over the query, but a wrong value is refused wherever it is given.
    both = parameters.values_of(declared, "strict", b'{"c": 1}', "application/json", query)
    assert both["c"] == 1 and both["e"] is False
    with pytest.raises(InvalidParameters) as refused:
        parameters.values_of(
            declared,
            "strict",
            b'{"e": true, "zz": 1}',
            "application/json",
            {"e": ["null"], "zz": ["2"]},
        )
    (e, zz) = refused.value.problems  # one problem per name, zz given twice
    assert e["name"] == "e" and zz["name"] == "zz" and "unknown" in zz["problem"]


def test_inject_puts_the_cell_where_papermill_does():
    nb = nbformat.from_dict(load_notebook("papermill_typed"))
    parameters.inject(nb, {"b": 'say "hi"\n', "d": ["x"], "e": False, "f": None})
    injected = nb.cells[2]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert injected.source == (
        "# Parameters\nb = 'say \"hi\"\\n'\nd = ['x']\ne = False\nf = None\n"
    )
    assert nb.metadata["papermill"]["parameters"] == {
        "b": 'say "hi"\n',
        "d": ["x"],
        "e": False,
        "f": None,
    }
    parameters.inject(nb, {"c": 1})  # replaces an injected cell, as papermill does
    assert [c.metadata.get("tags") for c in nb.cells].count(["injected-parameters"]) == 1
    nbformat.validate(nb)


# -- end to end --------------------------------------------------------------------


@pytest.mark.run_path
async def test_a_papermill_notebook_runs_unchanged_with_values_from_the_body(api, publish):
    simple = await publish("papermill_simple")
    assert (await run(api, simple, {"msg": "Hello papermill"})).body == b"Hello papermill"
    assert (await run(api, simple, query="msg=from the query")).body == b"from the query"
    assert (await run(api, simple, query="")).body == b"None"  # the default

    typed = await publish("papermill_typed")
    out = typed_output(await run(api, typed, {"a": 1, "c": 5, "d": ["x"], "e": False}))
    assert out == {"a": 1, "b": "hello", "c": 5, "d": ["x"], "e": False, "f": None}
    out = typed_output(await run(api, typed, query="c=9&e=false&f=anything"))
    assert out["c"] == 9 and out["e"] is False and out["f"] == "anything"


async def test_wrong_values_answer_422_naming_each_before_any_kernel(api, publish):
    typed = await publish("papermill_typed")
    before = await api("scripting", "log", "script", typed)
    answer = await run(api, typed, {"a": "two", "c": True, "nope": 1})
    assert answer.code == 422
    error = body_json(answer)
    assert error["reason"] == "invalid-parameters"
    assert {p["name"] for p in error["problems"]} == {"a", "c", "nope"}
    assert "a: must be a number, not a string" in error["message"]
    assert error["executionId"] is None
    # Refused before it ran: nothing was logged.
    after = await api("scripting", "log", "script", typed)
    assert body_json(after)["filteredLogs"] == body_json(before)["filteredLogs"] == []
    bad_json = await run(api, typed, "{not json")
    assert bad_json.code == 400 and body_json(bad_json)["reason"] == "bad-request"
    background = await api(
        "scripting",
        "script",
        typed,
        "background",
        method="POST",
        body='{"c": "x"}',
        headers=dict(JSON),
    )
    assert background.code == 422
    assert [p["name"] for p in body_json(background)["problems"]] == ["c"]


@pytest.mark.run_path
async def test_the_executed_notebook_records_the_injected_parameters(api, publish):
    typed = await publish("papermill_typed")
    answer = await run(api, typed, {"b": "injected", "c": 2})
    execution_id = answer.headers["X-Execution-Id"]
    nb = body_json(
        await api("scripting", "log", "script", typed, "execution", execution_id, "notebook")
    )
    tags = [c["metadata"].get("tags") for c in nb["cells"]]
    assert tags == [None, ["parameters"], ["injected-parameters"], None]
    assert "".join(nb["cells"][2]["source"]) == "# Parameters\nb = 'injected'\nc = 2\n"
    assert nb["cells"][2]["execution_count"] == 2
    assert nb["metadata"]["papermill"]["parameters"] == {"b": "injected", "c": 2}
    assert json.loads("".join(nb["cells"][3]["outputs"][0]["text"]))["c"] == 2


@pytest.mark.run_path
async def test_the_setting_per_script(api, publish):
    typed = await publish("papermill_typed")
    script = body_json(await api("scripting", "script", typed))
    assert script["parameters"] is None  # by the notebook: strict, it has a parameters cell

    changed = await api(
        "scripting", "script", typed, method="PATCH", body=json.dumps({"parameters": "lenient"})
    )
    assert changed.code == 200 and body_json(changed)["parameters"] == "lenient"
    out = typed_output(await run(api, typed, {"c": 3, "other": "for request"}))
    assert out["c"] == 3
    assert (await run(api, typed, {"c": "x"})).code == 422  # types still count

    await api("scripting", "script", typed, method="PATCH", body='{"parameters": "off"}')
    out = typed_output(await run(api, typed, {"c": "anything", "x": 1}))
    assert out["c"] == 0  # nothing injected: the notebook's own defaults

    bad = await api("scripting", "script", typed, method="PATCH", body='{"parameters": "on"}')
    assert bad.code == 400
    assert "strict" in body_json(bad)["message"]

    # Opted in without a parameters cell: the values go into a cell at the top.
    plain = await publish(notebook_of("print(greeting)"))
    await api("scripting", "script", plain, method="PATCH", body='{"parameters": "lenient"}')
    assert (await run(api, plain, {"greeting": "hi"})).body == b"hi"


@pytest.mark.run_path
async def test_background_runs_get_their_parameters(api, publish):
    simple = await publish("papermill_simple")
    answer = await api(
        "scripting",
        "script",
        simple,
        "background",
        method="POST",
        body='{"msg": "later"}',
        headers=dict(JSON),
    )
    assert answer.code == 202, answer.body
    execution_id = body_json(answer)["executionId"]
    deadline = time.monotonic() + 60
    while True:
        content = await api("scripting", "log", "script", simple, "execution", execution_id)
        if content.code != 202:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert content.code == 200 and content.body == b"later"


async def test_the_schema_of_a_script(api, publish):
    typed = await publish("papermill_typed", name="typed")
    answer = await api("scripting", "script", typed, "schema")
    assert answer.code == 200
    assert answer.headers["Content-Type"] == "application/json"
    schema = body_json(answer)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["a"] == {
        "type": "number",
        "default": 2.25,
        "description": "Variable a",
        "x-python": "a: float = 2.25",
    }
    assert schema["properties"]["d"]["default"] == ["a", "b"]
    assert "type" not in schema["properties"]["f"]
    assert schema["x-script"] == {"scriptId": typed, "name": "typed", "version": 1}
    # A valid JSON Schema, that accepts the defaults and refuses what a run refuses.
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"a": 1, "b": "x", "d": ["y"], "e": True, "f": [1]})
    assert not validator.is_valid({"a": "x"})
    assert not validator.is_valid({"zzz": 1})

    hello = await publish("hello")
    plain = body_json(await api("scripting", "script", hello, "schema"))
    assert "properties" not in plain and plain["type"] == "object"
    other = await api("scripting", "script", "00000000-0000-4000-8000-000000000000", "schema")
    assert other.code == 404
