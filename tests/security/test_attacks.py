"""The hostile-input suite: each test is one attack, and what the service answers.

Read top to bottom as a list: credentials, cross-site requests, ids, secrets and
kernels, what scripts may answer, tenants and roles, and hostile bodies.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from jupyter_scripting.store.service import Store

from ..helpers import body_json, load_notebook, notebook_of

BOGUS_ID = "00000000-0000-4000-8000-000000000000"


async def publish_as(api, headers: dict[str, str], notebook: Any, name: str = "s") -> str:
    answer = await api(
        "scripting",
        "script",
        method="POST",
        headers=headers,
        body=json.dumps({"name": name, "notebook": notebook}),
    )
    assert answer.code == 201, answer.body
    return str(body_json(answer)["scriptId"])


# -- 1. credentials ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer ",
        "Bearer jsk_",
        "Bearer jsk_0123456789abcdef_not-the-secret",
        "Bearer jsk_../../etc/passwd_x",
        "Bearer " + "jsk_" + "a" * 5000,
        "token not-the-server-token",
        "Basic dXNlcjpwYXNz",
    ],
)
async def test_no_or_wrong_credentials_are_401(raw_api, authorization):
    answer = await raw_api("scripting/script", headers={"Authorization": authorization})
    assert answer.code == 401
    assert body_json(answer)["reason"] == "not-authenticated"


async def test_revoked_key_is_401(raw_api, make_key, scripting):
    headers = await make_key("acme", "admin")
    assert (await raw_api("scripting/script", headers=headers)).code == 200
    key_id = headers["Authorization"].split("_")[1]
    await scripting.store.revoke_api_key(key_id)
    assert (await raw_api("scripting/script", headers=headers)).code == 401


async def test_key_in_query_string_is_refused_and_never_logged(raw_api, make_key, caplog):
    caplog.set_level(logging.DEBUG)
    key = (await make_key("acme", "admin"))["Authorization"].removeprefix("Bearer ")
    for path in (f"scripting/script?token={key}", f"scripting/nowhere?token={key}"):
        answer = await raw_api(path, headers={"Authorization": ""})
        assert answer.code == 401  # keys count in the Authorization header only
        assert key not in answer.body.decode()
    secret = key.split("_", 2)[2]
    assert secret not in caplog.text


# -- 2. cross-site requests -------------------------------------------------------------
async def login_cookies(raw_api, token: str) -> str:
    login = await raw_api(f"?token={token}", headers={"Authorization": ""}, follow_redirects=False)
    return "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))


@pytest.mark.parametrize("referer", [None, "https://evil.example/page"])
async def test_cookie_only_get_from_another_site_runs_nothing(
    api, raw_api, publish, jp_serverapp, referer
):
    script_id = await publish("nothing")
    cookies = await login_cookies(raw_api, jp_serverapp.identity_provider.token)
    headers = {"Authorization": "", "Cookie": cookies}
    if referer:
        headers["Referer"] = referer
    for method in ("GET", "POST"):
        answer = await raw_api(
            f"scripting/script/{script_id}/run",
            method=method,
            headers=headers,
            body=None if method == "GET" else b"",
        )
        assert answer.code == 403, (method, answer.body)
    log = body_json(await api("scripting", "log", "script", script_id))
    assert log["filteredLogs"] == []  # nothing ran


async def test_options_on_run_routes_executes_nothing(api, raw_api, publish):
    script_id = await publish("nothing")
    for route in ("run", "background"):
        answer = await raw_api(f"scripting/script/{script_id}/{route}", method="OPTIONS")
        assert answer.code in (200, 204)
    assert body_json(await api("scripting", "log", "script", script_id))["filteredLogs"] == []


# -- 3. ids from URLs ---------------------------------------------------------------------
HOSTILE_IDS = [
    "not-a-uuid",
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e",
    "%00",
    "x%00y",
    "A" * 10_000,
    "12345678-1234-1234-1234-1234567890AB",
    "'%20OR%201=1%20--",
]


BACKGROUND_WORK = (
    "take a run from the queue",
    "count the background runs",
    "refresh the node's heartbeat",
    "reap the runs of lost nodes",
    "fire the due schedules",
    "read the next schedule's tick",
    "claim the due webhook deliveries",
    "read the next webhook delivery",
)


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_hostile_ids_are_404_and_never_reach_the_database(
    raw_api, scripting, monkeypatch, hostile
):
    await scripting.service.ensure_ready()
    queries: list[str] = []
    original = Store._transact

    async def spy(self: Store, what: str, fn: Any) -> Any:
        # The background queue's polling (and its metrics), the node's heartbeat, its
        # reaping and its schedules' looks are not the request's.
        if what not in BACKGROUND_WORK:
            queries.append(what)
        return await original(self, what, fn)

    monkeypatch.setattr(Store, "_transact", spy)
    for path in (
        f"scripting/script/{hostile}",
        f"scripting/script/{hostile}/notebook",
        f"scripting/script/{hostile}/run",
        f"scripting/script/{hostile}/background",
        f"scripting/log/script/{hostile}",
        f"scripting/log/script/{BOGUS_ID}/execution/{hostile}",
        f"scripting/log/script/{BOGUS_ID}/execution/{hostile}/deliveries",
        f"scripting/key/{hostile}",
    ):
        method = "DELETE" if path.startswith("scripting/key") else "GET"
        answer = await raw_api(path, method=method)
        assert answer.code == 404, (path, answer.code)
        assert set(body_json(answer)) == {"message", "reason", "executionId"}
    # Only the well-formed id (the log route's script id) was ever looked up.
    assert queries in ([], ["read the execution"]), queries


# -- 4. secrets never reach a kernel, nor the logs ------------------------------------------
@pytest.mark.run_path
async def test_keys_token_and_cookies_never_reach_the_kernel(
    api, raw_api, make_key, jp_serverapp, caplog
):
    caplog.set_level(logging.DEBUG)
    headers = await make_key("default", "developer")
    key = headers["Authorization"].removeprefix("Bearer ")
    token = jp_serverapp.identity_provider.token
    script_id = await publish_as(api, headers, load_notebook("environment"))
    answer = await raw_api(
        f"scripting/script/{script_id}/run?token={token}&keep=1&apikey={key}",
        method="POST",
        body=b"{}",
        headers={
            **headers,
            "Cookie": f"session=abc; token={token}",
            "X-Api-Key": key,
            "X-Forwarded-Authorization": f"Bearer {key}",
        },
    )
    assert answer.code == 200, answer.body
    seen = answer.body.decode()
    secret = key.split("_", 2)[2]
    for value in (secret, token, "session=abc"):
        assert value not in seen  # environment, argv, cwd listing, headers, query
    assert body_json(answer)["query"] == {"keep": ["1"]}
    assert secret not in caplog.text
    assert token not in caplog.text


# -- 5. what a script may answer ----------------------------------------------------------
async def test_script_cannot_set_cookies_or_inject_headers(api, publish):
    script_id = await publish("custom_answer")
    answer = await api("scripting", "script", script_id, "run", method="POST")
    assert answer.code == 201
    assert not any("stolen" in c for c in answer.headers.get_list("Set-Cookie"))
    assert "X-Newline" not in answer.headers
    assert not any("Injected" in name for name in answer.headers)


@pytest.mark.parametrize("status", ["99", "600", "1000", "-1", "'200'", "None"])
async def test_status_outside_200_599_is_refused(api, publish, status):
    script_id = await publish(notebook_of(f"response.status = {status}"))
    answer = await api("scripting", "script", script_id, "run")
    assert answer.code == 502
    assert body_json(answer)["reason"] == "bad-answer"


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("text/html", "<script>fetch('/api/contents').then(r => r.text())</script>"),
        (
            "image/svg+xml",
            "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        ),
    ],
)
async def test_html_and_svg_answers_are_sandboxed(api, publish, content_type, payload):
    script_id = await publish(
        notebook_of(f"response.content_type = {content_type!r}\nresponse.write({payload!r})")
    )
    answer = await api("scripting", "script", script_id, "run")
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["Content-Security-Policy"] == "sandbox"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    execution_id = answer.headers["X-Execution-Id"]
    logged = await api("scripting", "log", "script", script_id, "execution", execution_id)
    assert logged.headers["Content-Security-Policy"] == "sandbox"
    assert logged.headers["X-Content-Type-Options"] == "nosniff"


# -- 6. tenants and roles -----------------------------------------------------------------
async def test_runner_key_runs_but_cannot_read_logs_edit_or_manage_keys(api, make_key):
    admin = await make_key("acme", "admin")
    runner = await make_key("acme", "runner")
    script_id = await publish_as(api, admin, load_notebook("hello"))
    ran = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        headers=runner,
        body=json.dumps({"name": "R"}),
    )
    assert ran.code == 200
    assert ran.body == b"Hello R!"
    forbidden = [
        ("GET", ("scripting", "log", "script", script_id), None),
        (
            "GET",
            ("scripting", "log", "script", script_id, "execution", ran.headers["X-Execution-Id"]),
            None,
        ),
        ("GET", ("scripting", "script"), None),
        (
            "PUT",
            ("scripting", "script", script_id),
            json.dumps({"notebook": load_notebook("nothing")}),
        ),
        ("PATCH", ("scripting", "script", script_id), '{"name": "x"}'),
        ("DELETE", ("scripting", "script", script_id), None),
        (
            "POST",
            ("scripting", "script"),
            json.dumps({"name": "x", "notebook": load_notebook("nothing")}),
        ),
        ("GET", ("scripting", "key"), None),
        ("POST", ("scripting", "key"), '{"user": "me", "role": "admin"}'),
        (
            "GET",
            (
                "scripting",
                "log",
                "script",
                script_id,
                "execution",
                ran.headers["X-Execution-Id"],
                "deliveries",
            ),
            None,
        ),
        ("GET", ("scripting", "webhook", "secret"), None),
        ("POST", ("scripting", "webhook", "secret"), None),
    ]
    for method, parts, body in forbidden:
        answer = await api(*parts, method=method, headers=runner, body=body)
        assert answer.code == 403, (method, parts)
        assert body_json(answer)["reason"] == "forbidden"


async def test_developer_cannot_manage_keys(api, make_key):
    developer = await make_key("acme", "developer")
    assert (await api("scripting", "key", headers=developer)).code == 403
    assert (await api("scripting", "script", headers=developer)).code == 200


async def test_tenant_a_cannot_reach_anything_of_tenant_b(api, make_key):
    a = await make_key("tenant-a", "admin")
    b = await make_key("tenant-b", "admin")
    b_script = await publish_as(api, b, load_notebook("hello"))
    b_run = await api(
        "scripting",
        "script",
        b_script,
        "run",
        method="POST",
        headers=b,
        body=json.dumps({"name": "B"}),
    )
    execution = b_run.headers["X-Execution-Id"]
    for method, parts in [
        ("GET", ("scripting", "script", b_script)),
        ("GET", ("scripting", "script", b_script, "notebook")),
        ("PATCH", ("scripting", "script", b_script)),
        ("DELETE", ("scripting", "script", b_script)),
        ("POST", ("scripting", "script", b_script, "run")),
        ("POST", ("scripting", "script", b_script, "background")),
        ("GET", ("scripting", "log", "script", b_script)),
        ("GET", ("scripting", "log", "script", b_script, "execution", execution)),
        ("GET", ("scripting", "log", "script", b_script, "execution", execution, "notebook")),
        ("GET", ("scripting", "log", "script", b_script, "execution", execution, "deliveries")),
    ]:
        body = '{"name": "x"}' if method in ("PATCH", "POST") else None
        answer = await api(*parts, method=method, headers=a, body=body)
        assert answer.code == 404, (method, parts, answer.code)
    assert body_json(await api("scripting", "script", headers=a))["scripts"] == []
    b_keys = body_json(await api("scripting", "key", headers=b))["keys"]
    revoke = await api("scripting", "key", b_keys[0]["keyId"], method="DELETE", headers=a)
    assert revoke.code == 404
    # And B still has its script, untouched.
    assert (await api("scripting", "script", b_script, headers=b)).code == 200


async def test_admin_manages_its_tenants_keys_over_http(api, raw_api, make_key):
    admin = await make_key("acme", "admin")
    created = await api(
        "scripting",
        "key",
        method="POST",
        headers=admin,
        body='{"user": "ci-bot", "role": "runner"}',
    )
    assert created.code == 201
    model = body_json(created)
    assert model["tenant"] == "acme"
    assert model["role"] == "runner"
    new_key = {"Authorization": f"Bearer {model['key']}"}
    listed = body_json(await api("scripting", "key", headers=admin))["keys"]
    assert model["keyId"] in {k["keyId"] for k in listed}
    assert all("key" not in k for k in listed)  # never the secrets again
    assert (await raw_api("scripting/script", headers=new_key)).code == 403  # runner
    revoked = await api("scripting", "key", model["keyId"], method="DELETE", headers=admin)
    assert revoked.code == 204
    assert (await raw_api("scripting/script", headers=new_key)).code == 401
    bad = await api(
        "scripting", "key", method="POST", headers=admin, body='{"user": "x", "role": "root"}'
    )
    assert bad.code == 400


# -- 7. hostile bodies --------------------------------------------------------------------
async def test_deeply_nested_json_is_400_not_500(api):
    nested = "[" * 100_000 + "]" * 100_000
    answer = await api("scripting", "script", method="POST", body=nested)
    assert answer.code == 400
    assert body_json(answer)["message"]


async def test_large_json_invalid_utf8_and_unknown_types_reach_the_script(api, publish):
    script_id = await publish("echo")
    cases = [
        (json.dumps({"items": list(range(300_000))}).encode(), "application/json"),
        (b"caf\xe9 \xff\xfe", "text/plain; charset=utf-8"),
        (b"\x00\x01binary", "application/x-made-up"),
        (b"<<<", "text/x-nonsense; charset=klingon"),
        # Forms Tornado cannot parse: it would answer 400 before any handler code ran.
        (b"--b\r\n[]--b--\r\n", "multipart/form-data; boundary=b"),
        (b"no boundary at all", "multipart/form-data"),
        (b"\xff\x00=%zz&&", "application/x-www-form-urlencoded"),
    ]
    for body, content_type in cases:
        answer = await api(
            "scripting",
            "script",
            script_id,
            "run",
            method="POST",
            body=body,
            headers={"Content-Type": content_type},
        )
        assert answer.code == 200, (content_type, answer.body[:200])
        assert base64.b64decode(body_json(answer)["body_b64"]) == body
