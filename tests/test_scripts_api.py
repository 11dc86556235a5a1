"""README, "HTTP API": every scripts route, and the 400/404 answers."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import body_json, load_notebook, notebook_of, source

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_create_get_list(api, jp_base_url):
    nb = load_notebook("hello")
    created = await api(
        "scripting", "script", method="POST", body=json.dumps({"name": "hello", "notebook": nb})
    )
    assert created.code == 201
    model = body_json(created)
    assert set(model) >= {"scriptId", "name", "version", "createdAt", "updatedAt"}
    assert model["version"] == 1 and model["name"] == "hello"
    assert ISO.match(model["createdAt"]) and ISO.match(model["updatedAt"])
    assert created.headers["Location"] == f"{jp_base_url}scripting/script/{model['scriptId']}"

    got = await api("scripting", "script", model["scriptId"])
    assert got.code == 200 and body_json(got) == model

    listed = body_json(await api("scripting", "script"))
    assert listed == {
        "scripts": [
            {**model, "lastExecution": None, "nextScheduledRun": None, "lastDeliveries": []}
        ],
        "moreElements": False,
    }


async def test_the_listing_says_each_scripts_last_execution(api, publish):
    ran = await publish("hello", name="ran")
    never = await publish("hello", name="never")
    await api("scripting", "script", ran, "run", method="POST", body=b'{"name": "A"}')
    failed = await api("scripting", "script", ran, "run", method="POST", body=b"{}")
    assert failed.code == 502
    scripts = {s["scriptId"]: s for s in body_json(await api("scripting", "script"))["scripts"]}
    assert scripts[never]["lastExecution"] is None
    last = scripts[ran]["lastExecution"]
    logs = body_json(await api("scripting", "log", "script", ran, params={"version": "all"}))
    assert last == logs["filteredLogs"][0]
    assert last["executionId"] == failed.headers["X-Execution-Id"]
    assert (last["statusCode"], last["state"]) == (502, "failed")


async def test_create_bare_notebook_with_name_argument(api):
    created = await api(
        "scripting",
        "script",
        method="POST",
        params={"name": "bare"},
        body=json.dumps(load_notebook("hello")),
    )
    assert created.code == 201 and body_json(created)["name"] == "bare"


async def test_list_paging(api, publish):
    ids = [await publish("nothing", name=f"s{i}") for i in range(3)]
    page = body_json(await api("scripting", "script", params={"limit": "2"}))
    assert len(page["scripts"]) == 2 and page["moreElements"] is True
    rest = body_json(await api("scripting", "script", params={"limit": "2", "offset": "2"}))
    assert len(rest["scripts"]) == 1 and rest["moreElements"] is False
    assert {s["scriptId"] for s in page["scripts"] + rest["scripts"]} == set(ids)
    bad = await api("scripting", "script", params={"limit": "0"})
    assert bad.code == 400 and "limit" in body_json(bad)["message"]


async def test_put_makes_a_new_version_and_keeps_the_old(api, publish):
    script_id = await publish("hello", name="v")
    changed = load_notebook("nothing")
    put = await api(
        "scripting", "script", script_id, method="PUT", body=json.dumps({"notebook": changed})
    )
    assert put.code == 200
    assert body_json(put)["version"] == 2 and body_json(put)["name"] == "v"

    latest = await api("scripting", "script", script_id, "notebook")
    assert latest.code == 200
    assert latest.headers["Content-Type"] == "application/x-ipynb+json"
    assert source(body_json(latest)["cells"][0]) == "x = 1"
    first = await api("scripting", "script", script_id, "notebook", params={"version": "1"})
    assert "request.json()" in source(body_json(first)["cells"][1])
    missing = await api("scripting", "script", script_id, "notebook", params={"version": "3"})
    assert missing.code == 404


async def test_patch_renames_and_sets_timeout(api, publish):
    script_id = await publish("hello", name="before")
    patched = await api(
        "scripting",
        "script",
        script_id,
        method="PATCH",
        body=json.dumps({"name": "after", "timeout": 5}),
    )
    assert patched.code == 200
    model = body_json(patched)
    assert model["name"] == "after" and model["timeout"] == 5 and model["version"] == 1
    for bad in ({"timeout": -1}, {"timeout": "x"}, {"colour": "red"}, {"name": ""}, []):
        answer = await api("scripting", "script", script_id, method="PATCH", body=json.dumps(bad))
        assert answer.code == 400, bad
        assert body_json(answer)["message"]


async def test_delete_removes_script_and_logs(api, publish):
    script_id = await publish("nothing")
    assert (await api("scripting", "script", script_id, "run", method="POST")).code == 204
    deleted = await api("scripting", "script", script_id, method="DELETE")
    assert deleted.code == 204 and deleted.body == b""
    assert (await api("scripting", "script", script_id)).code == 404
    assert (await api("scripting", "log", "script", script_id)).code == 404
    assert (await api("scripting", "script", script_id, method="DELETE")).code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"name": "x", "notebook": {"nbformat": 3}}).encode(), "nbformat 4"),
        (json.dumps({"name": "x", "notebook": "cells"}).encode(), "JSON object in nbformat v4"),
        (
            json.dumps(
                {"name": "x", "notebook": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}}}
            ).encode(),
            "not valid nbformat v4",
        ),
        (
            json.dumps(
                {
                    "name": "x",
                    "notebook": {
                        "nbformat": 4,
                        "nbformat_minor": 5,
                        "metadata": {},
                        "cells": [{"cell_type": "code", "source": "1", "metadata": {}}],
                    },
                }
            ).encode(),
            "not valid nbformat v4",
        ),
        (json.dumps({"notebook": {"nbformat": 4}}).encode(), "name"),
        (json.dumps({"name": "x"}).encode(), "notebook"),
        # nbformat itself only asserts this one (found by schemathesis: it was a 500).
        (
            json.dumps(
                {
                    "name": "x",
                    "notebook": {"nbformat": 4, "nbformat_minor": 5.0, "metadata": {}, "cells": []},
                }
            ).encode(),
            "nbformat_minor must be a non-negative integer",
        ),
        (
            json.dumps({"name": None, "notebook": {"nbformat": 4, "nbformat_minor": 5}}).encode(),
            '"name" must be a string',
        ),
        # nbformat checks nothing at all for a minor version newer than its own (schemathesis).
        (
            json.dumps(
                {
                    "name": "x",
                    "notebook": {
                        "nbformat": 4,
                        "nbformat_minor": 99,
                        "metadata": {},
                        "cells": [{"cell_type": "bogus", "source": "", "metadata": {}}],
                    },
                }
            ).encode(),
            "not valid nbformat v4 at cells/0",
        ),
    ],
)
async def test_bad_bodies_are_400_with_a_message(api, body, says):
    answer = await api("scripting", "script", method="POST", body=body)
    assert answer.code == 400
    error = body_json(answer)
    assert says in error["message"], error
    assert set(error) == {"message", "reason", "executionId"}
    assert "Traceback" not in answer.body.decode()


@pytest.mark.parametrize(
    "script_id",
    [
        "not-a-uuid",
        "..",
        "%2e%2e",
        "..%2F..%2Fetc%2Fpasswd",
        "00000000-0000-0000-0000-000000000000",
        "A" * 5000,
        "12345678-1234-1234-1234-1234567890AB",  # not canonical (upper case)
        "%00",
    ],
)
async def test_unknown_malformed_and_pathlike_ids_are_404(raw_api, script_id):
    for suffix in ("", "/notebook", "/run", "/x/y"):
        answer = await raw_api(f"scripting/script/{script_id}{suffix}")
        assert answer.code == 404, (script_id, suffix, answer.body)
        assert set(body_json(answer)) == {"message", "reason", "executionId"}
    valid = {
        "PUT": json.dumps({"notebook": load_notebook("nothing")}).encode(),
        "PATCH": b'{"name": "x"}',
        "DELETE": None,
        "POST": b"{}",
    }
    for method, body in valid.items():
        answer = await raw_api(f"scripting/script/{script_id}", method=method, body=body)
        assert answer.code in (404, 405), (script_id, method)
    for suffix in ("", f"/execution/{script_id}", f"/execution/{script_id}/notebook"):
        answer = await raw_api(f"scripting/log/script/{script_id}{suffix}")
        assert answer.code == 404, (script_id, suffix)


async def test_unknown_route_under_scripting_is_json_404(api):
    answer = await api("scripting", "nowhere", "at", "all")
    assert answer.code == 404
    assert answer.headers["Content-Type"].startswith("application/json")
    assert body_json(answer)["reason"] == "not-found"


async def test_name_argument_is_refused_not_altered(api, publish):
    """Tornado's get_argument would silently drop the control character (schemathesis)."""
    notebook = json.dumps({"name": "x", "notebook": notebook_of("1")}).encode()
    answer = await api(
        "scripting", "script", method="POST", body=notebook, params={"name": "a\x0fb"}
    )
    assert answer.code == 400
    assert "control characters" in body_json(answer)["message"]


async def test_405_says_which_methods_are_allowed(api, publish):
    answer = await api("scripting", "script", method="DELETE")
    assert answer.code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    assert body_json(answer)["reason"] == "method-not-allowed"


async def test_a_newer_minor_version_is_checked_against_the_newest_schema(api):
    """Properties a newer nbformat minor version may add are allowed; the rest is checked."""
    notebook = {**notebook_of("print(1)"), "nbformat_minor": 99}
    notebook["cells"][0]["added_by_a_later_nbformat"] = True
    answer = await api(
        "scripting",
        "script",
        method="POST",
        body=json.dumps({"name": "future", "notebook": notebook}),
    )
    assert answer.code == 201, answer.body
