"""Authentication: 401 with a JSON body for every route — never 403, never a redirect."""

from __future__ import annotations

import json

import pytest

from .helpers import body_json, load_notebook

ID = "00000000-0000-4000-8000-000000000000"
ROUTES = [
    ("GET", "scripting/script"),
    ("POST", "scripting/script"),
    ("GET", f"scripting/script/{ID}"),
    ("PUT", f"scripting/script/{ID}"),
    ("PATCH", f"scripting/script/{ID}"),
    ("DELETE", f"scripting/script/{ID}"),
    ("GET", f"scripting/script/{ID}/notebook"),
    ("GET", f"scripting/script/{ID}/run"),
    ("POST", f"scripting/script/{ID}/run"),
    ("PUT", f"scripting/script/{ID}/run"),
    ("PATCH", f"scripting/script/{ID}/run"),
    ("DELETE", f"scripting/script/{ID}/run"),
    ("GET", f"scripting/log/script/{ID}"),
    ("GET", f"scripting/log/script/{ID}/execution/{ID}"),
    ("GET", f"scripting/log/script/{ID}/execution/{ID}/notebook"),
    ("GET", "scripting/elsewhere"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("credentials", [None, "token wrong-token", "Bearer wrong-token"])
async def test_unauthenticated_is_401_json(raw_api, method, path, credentials):
    headers = {"Authorization": credentials or ""}
    body = None if method in ("GET", "DELETE") else b"{}"
    answer = await raw_api(path, method=method, headers=headers, body=body, follow_redirects=False)
    assert answer.code == 401, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    error = body_json(answer)
    assert set(error) == {"message", "reason", "executionId"}
    assert error["reason"] == "not-authenticated"
    assert "WWW-Authenticate" in answer.headers


async def test_bearer_and_query_token_work(raw_api, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    bearer = await raw_api("scripting/script", headers={"Authorization": f"Bearer {token}"})
    assert bearer.code == 200
    query = await raw_api(f"scripting/script?token={token}", headers={"Authorization": ""})
    assert query.code == 200


async def test_cookie_session_post_needs_xsrf(raw_api, jp_serverapp, http_server_client):
    """A browser session (cookie, no token) must pass the XSRF check to change anything."""
    token = jp_serverapp.identity_provider.token
    login = await raw_api(f"?token={token}", headers={"Authorization": ""}, follow_redirects=False)
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie") if c)
    assert "username-" in cookies
    body = json.dumps({"name": "x", "notebook": load_notebook("nothing")})
    refused = await raw_api(
        "scripting/script",
        method="POST",
        body=body,
        headers={"Authorization": "", "Cookie": cookies},
    )
    assert refused.code == 403
    xsrf = next(c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf="))
    accepted = await raw_api(
        "scripting/script",
        method="POST",
        body=body,
        headers={"Authorization": "", "Cookie": cookies, "X-XSRFToken": xsrf},
    )
    assert accepted.code == 201
