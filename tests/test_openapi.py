"""The OpenAPI document (``api/openapi.yaml``): served at ``/scripting/openapi.json``, valid
OpenAPI 3.1, describing every route the extension registers — and the live answers of the
running extension, successes and errors, validated against it with openapi-core.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate
from tornado import routing, web
from tornado.httpclient import HTTPResponse

from jupyter_scripting.handlers.base import NotFoundHandler

from .helpers import body_json, load_notebook, notebook_of

DOCUMENT = Path(__file__).parents[1] / "api" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
#: A stand-in for the ids of things that do not exist.
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def jp_server_config(jp_server_config):
    # Small limits, so that 413 and 431 are cheap to provoke in-process (pytest-jupyter's
    # HTTP server keeps Tornado's 64 KiB header limit).
    jp_server_config.ScriptingApp.max_body_size = 64 * 1024
    jp_server_config.ScriptingApp.max_header_size = 16 * 1024
    return jp_server_config


def load_document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def template_of(pattern: str) -> str:
    """``/base/scripting/script/([^/]+)/run/?$`` → ``/scripting/script/{}/run``."""
    path = pattern.rstrip("$").removesuffix("/?")
    return re.sub(r"\([^)]*\)", "{}", path)


def handler_rules(router: Any) -> list[tuple[str, Any]]:
    """(path regex, handler class) of every rule under a Tornado router, nested
    routers included (``add_handlers`` puts an extension's under a host matcher)."""
    found = []
    for rule in router.rules:
        if isinstance(rule.target, routing.RuleRouter):
            found += handler_rules(rule.target)
        elif isinstance(rule.matcher, routing.PathMatches):
            found.append((rule.matcher.regex.pattern, rule.target))
    return found


def documented_routes(document: dict[str, Any]) -> dict[str, set[str]]:
    return {
        re.sub(r"\{[^}]+\}", "{}", path): {m for m in item if m in METHODS}
        for path, item in document["paths"].items()
    }


def test_document_is_valid_openapi_31() -> None:
    document = load_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_served_document_is_the_file(api, raw_api, jp_base_url) -> None:
    answer = await api("scripting", "openapi.json")
    assert answer.code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    served = body_json(answer)
    assert served["servers"][0]["url"].rstrip("/") == jp_base_url.rstrip("/")
    assert {**served, "servers": None} == {**load_document(), "servers": None}
    anonymous = await raw_api("scripting/openapi.json", headers={"Authorization": ""})
    assert anonymous.code == 401


def test_every_registered_route_is_documented(jp_serverapp, jp_base_url) -> None:
    """Each handler the extension registers, with the methods it implements, is in the
    document, and the document names no route the server does not have."""
    prefix = jp_base_url.rstrip("/")
    registered: dict[str, set[str]] = {}
    for pattern, handler in handler_rules(jp_serverapp.web_app.default_router):
        if not pattern.startswith(prefix + "/scripting") or handler is NotFoundHandler:
            continue
        methods = {
            m
            for m in METHODS
            if getattr(handler, m) is not getattr(web.RequestHandler, m)
            and m != "options"  # jupyter_server's CORS preflight, on every APIHandler
        }
        registered[template_of(pattern.removeprefix(prefix))] = methods
    assert registered == documented_routes(load_document())


# -- live answers ----------------------------------------------------------------------------


class Checker:
    """Sends requests through the in-process server and validates each request and
    answer against the document; remembers which operations and statuses were seen."""

    def __init__(self, api: Any, auth_header: dict[str, str]) -> None:
        self.api = api
        self.auth_header = auth_header
        # The notebook routes answer application/x-ipynb+json: JSON by its +json suffix.
        config = Config(extra_media_type_deserializers={"application/x-ipynb+json": json.loads})
        self.openapi = OpenAPI.from_dict(load_document(), config=config)
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(
        self, method: str, path: str, *, expect: int, body: bytes | None = None, **kwargs: Any
    ) -> HTTPResponse:
        headers = dict(kwargs.pop("headers", {}))
        content_type = headers.get("Content-Type", "application/json")
        if body is not None:
            headers.setdefault("Content-Type", content_type)
        parts = path.strip("/").split("?")[0].split("/")
        query = urlsplit(path).query
        params = {k: v[0] for k, v in parse_qs(query).items()}
        answer = await self.api(
            *parts, method=method, body=body, headers=headers, params=params, **kwargs
        )
        assert answer.code == expect, (method, path, answer.code, answer.body[:500])
        request = MockRequest(
            "http://localhost",
            method,
            "/" + "/".join(parts),
            args=params,
            headers={**self.auth_header, **headers},
            data=body,
            content_type=content_type if body is not None else "",
        )
        response = MockResponse(
            answer.body,
            status_code=answer.code,
            headers=dict(answer.headers.get_all()),
            content_type=answer.headers.get("Content-Type", ""),
        )
        if expect < 400:
            # Requests the service accepts are requests the document allows.
            self.openapi.validate_request(request)
        self.openapi.validate_response(request, response)
        operation = re.sub(
            r"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16}(?=$)|(?<=/scripting/variables/)[^/]+",
            "{}",
            request.path,
        )
        self.seen.add((operation, method.lower(), answer.code))
        return answer


async def test_live_answers_conform(api, jp_auth_header) -> None:
    check = Checker(api, jp_auth_header)
    hello = notebook_of('name = request.json()["name"]\nprint(f"Hello {name}!")')

    async def create(name: str, notebook: dict[str, Any]) -> str:
        body = json.dumps({"name": name, "notebook": notebook}).encode()
        return str(
            body_json(await check("POST", "scripting/script", body=body, expect=201))["scriptId"]
        )

    # Scripts.
    sid = await create("hello", hello)
    await check("POST", "scripting/script?name=bare", body=json.dumps(hello).encode(), expect=201)
    await check("POST", "scripting/script", body=b"{not json", expect=400)
    await check("POST", "scripting/script", body=b'{"name": "x", "notebook": {}}', expect=400)
    await check("GET", "scripting/script?limit=1", expect=200)
    await check("GET", "scripting/script?limit=0", expect=400)
    await check("GET", f"scripting/script/{sid}", expect=200)
    await check("GET", f"scripting/script/{MISSING}", expect=404)
    await check("GET", "scripting/script/not-an-id", expect=404)
    await check(
        "PUT", f"scripting/script/{sid}", body=json.dumps({"notebook": hello}).encode(), expect=200
    )
    await check("PATCH", f"scripting/script/{sid}", body=b'{"timeout": 20}', expect=200)
    await check("PATCH", f"scripting/script/{sid}", body=b'{"colour": "red"}', expect=400)
    await check("GET", f"scripting/script/{sid}/notebook", expect=200)
    await check("GET", f"scripting/script/{sid}/notebook?version=1", expect=200)
    await check("GET", f"scripting/script/{sid}/notebook?version=9", expect=404)

    # Runs: the script's answer, its failure, its timeout, and the service's limits.
    run_body = b'{"name": "John Smith"}'
    answer = await check("POST", f"scripting/script/{sid}/run", body=run_body, expect=200)
    assert answer.body == b"Hello John Smith!"
    run_id = answer.headers["X-Execution-Id"]
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        # No JSON body: the script raises, which is the service's 502.
        await check(method, f"scripting/script/{sid}/run", expect=502)
    await check("POST", f"scripting/script/{MISSING}/run", body=run_body, expect=404)
    big = b"x" * (64 * 1024 + 1)
    await check("POST", f"scripting/script/{sid}/run", body=big, expect=413)
    filler = {f"X-Filler-{i}": "a" * 1000 for i in range(20)}
    await check("GET", f"scripting/script/{sid}/run", headers=filler, expect=431)
    quiet = await create("quiet", notebook_of("x = 1"))
    await check("GET", f"scripting/script/{quiet}/run", expect=204)
    # Parameters: the schema, and a value that does not fit it.
    typed = await create("typed", load_notebook("papermill_typed"))
    await check("GET", f"scripting/script/{typed}/schema", expect=200)
    await check("GET", f"scripting/script/{MISSING}/schema", expect=404)
    await check("GET", f"scripting/script/{typed}/openapi.json", expect=200)
    await check("GET", f"scripting/script/{MISSING}/openapi.json", expect=404)
    await check("POST", f"scripting/script/{typed}/run", body=b'{"c": "x"}', expect=422)
    await check("POST", f"scripting/script/{typed}/background", body=b'{"c": 1.5}', expect=422)
    # Schedules.
    schedules = f"scripting/script/{typed}/schedule"
    plan = b'{"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "body": {"c": 2}}'
    created = body_json(await check("POST", schedules, body=plan, expect=201))
    await check("POST", schedules, body=b'{"cron": "every day"}', expect=400)
    await check("POST", schedules, body=b'{"cron": "@daily", "body": {"c": "x"}}', expect=422)
    await check("GET", schedules, expect=200)
    await check("GET", f"scripting/script/{MISSING}/schedule", expect=404)
    schedule = f"{schedules}/{created['scheduleId']}"
    await check("GET", schedule, expect=200)
    await check("PATCH", schedule, body=b'{"enabled": false}', expect=200)
    await check("PATCH", schedule, body=b'{"catchUp": "all"}', expect=400)
    await check("PATCH", schedule, body=b'{"body": {"c": 1.5}}', expect=422)
    await check("DELETE", schedule, expect=204)
    await check("GET", schedule, expect=404)
    await check("DELETE", schedule, expect=404)
    await check("PATCH", f"scripting/script/{typed}", body=b'{"parameters": "off"}', expect=200)
    slow_id = await create("slow", notebook_of("import time\ntime.sleep(30)"))
    await check("PATCH", f"scripting/script/{slow_id}", body=b'{"timeout": 0.5}', expect=200)
    await check("GET", f"scripting/script/{slow_id}/run", expect=504)

    # Background runs, and the log while they are pending and once they are done.
    pending = body_json(await check("POST", f"scripting/script/{slow_id}/background", expect=202))
    await check("GET", f"scripting/log/script/{slow_id}", expect=200)
    execution = f"scripting/log/script/{slow_id}/execution/{pending['executionId']}"
    answer = await check("GET", execution, expect=202)
    assert body_json(answer)["state"] in ("queued", "running")
    await check("GET", execution + "/notebook", expect=202)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        await check(method, f"scripting/script/{sid}/background", expect=202)
    await check("POST", f"scripting/script/{MISSING}/background", expect=404)
    background = body_json(
        await check("POST", f"scripting/script/{sid}/background", body=run_body, expect=202)
    )
    done = f"scripting/log/script/{sid}/execution/{background['executionId']}"
    for _ in range(300):
        answer = await api(*done.split("/"))
        if answer.code != 202:
            break
        await asyncio.sleep(0.1)
    await check("GET", done, expect=200)

    # Logs.
    await check("GET", f"scripting/log/script/{sid}?version=all&limit=5", expect=200)
    await check("GET", f"scripting/log/script/{sid}?version=1", expect=200)
    await check("GET", f"scripting/log/script/{sid}?version=none", expect=400)
    await check("GET", f"scripting/log/script/{MISSING}", expect=404)
    await check("GET", f"scripting/log/script/{sid}/execution/{run_id}", expect=200)
    await check("GET", f"scripting/log/script/{sid}/execution/{run_id}/notebook", expect=200)
    await check("GET", f"scripting/log/script/{sid}/execution/{MISSING}", expect=404)
    await check("GET", f"scripting/log/script/{sid}/execution/{MISSING}/notebook", expect=404)
    await check("GET", f"scripting/log/script/{sid}/execution/{run_id}/events", expect=200)
    await check("GET", f"scripting/log/script/{sid}/execution/{run_id}/events?after=x", expect=400)
    await check("GET", f"scripting/log/script/{sid}/execution/{MISSING}/events", expect=404)
    # Webhooks: a run's deliveries (none here), refused targets, the signing secret.
    await check("GET", f"scripting/log/script/{sid}/execution/{run_id}/deliveries", expect=200)
    await check("GET", f"scripting/log/script/{sid}/execution/{MISSING}/deliveries", expect=404)
    private = b'{"webhook": {"url": "http://10.0.0.7/hook"}}'
    await check("PATCH", f"scripting/script/{sid}", body=private, expect=403)
    refused = {"X-Scripting-Callback": "http://10.0.0.7/hook"}
    await check("POST", f"scripting/script/{sid}/run", headers=refused, body=run_body, expect=403)
    await check("GET", "scripting/webhook/secret", expect=200)
    await check("POST", "scripting/webhook/secret", expect=201)
    # Variables and secrets, and a script asking for them.
    secret = b'{"value": "s3cret-value"}'
    await check("PUT", "scripting/variables/API_TOKEN", body=secret, expect=201)
    await check("PUT", "scripting/variables/API_TOKEN", body=secret, expect=200)
    plain = b'{"value": "eu-1", "secret": false}'
    await check("PUT", "scripting/variables/REGION", body=plain, expect=201)
    await check("PUT", "scripting/variables/REGION", body=b'{"value": 1}', expect=400)
    await check("PUT", "scripting/variables/no-dash", body=plain, expect=400)
    await check("GET", "scripting/variables", expect=200)
    await check("GET", "scripting/variables/REGION", expect=200)
    await check("GET", "scripting/variables/API_TOKEN", expect=200)
    await check("GET", "scripting/variables/MISSING", expect=404)
    asks = b'{"variables": ["API_TOKEN", "REGION"]}'
    await check("PATCH", f"scripting/script/{sid}", body=asks, expect=200)
    await check("PATCH", f"scripting/script/{sid}", body=b'{"variables": "A"}', expect=400)
    retries = b'{"retries": {"max": 2, "on": [502], "backoff": 5}}'
    await check("PATCH", f"scripting/script/{sid}", body=retries, expect=200)
    await check("PATCH", f"scripting/script/{sid}", body=b'{"retries": {"max": 0}}', expect=400)
    await check("DELETE", "scripting/variables/REGION", expect=204)
    await check("DELETE", "scripting/variables/REGION", expect=404)

    # Keys, a runner's 403, a stranger's 401.
    key_body = b'{"user": "ci", "role": "runner"}'
    created_key = body_json(await check("POST", "scripting/key", body=key_body, expect=201))
    await check("POST", "scripting/key", body=b'{"user": "ci", "role": "boss"}', expect=400)
    await check("GET", "scripting/key", expect=200)
    runner = {"Authorization": f"Bearer {created_key['key']}"}
    await check("GET", f"scripting/log/script/{sid}", headers=runner, expect=403)
    await check("POST", f"scripting/script/{sid}/run", headers=runner, body=run_body, expect=200)
    await check("DELETE", f"scripting/key/{created_key['keyId']}", expect=204)
    await check("DELETE", f"scripting/key/{created_key['keyId'][::-1]}", expect=404)
    await check("GET", "scripting/script", headers=runner, expect=401)
    await check("GET", "scripting/openapi.json", expect=200)
    await check("DELETE", f"scripting/script/{quiet}", expect=204)
    await check("DELETE", f"scripting/script/{quiet}", expect=404)

    # Every documented operation was called, and answered as documented.
    operations = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in load_document()["paths"].items()
        for method in item
        if method in METHODS
    }
    called = {(path, method) for path, method, _ in check.seen}
    assert operations - called == set()


# -- one script's own document ---------------------------------------------------------------


async def test_a_scripts_own_document_describes_its_runs(
    api, publish, jp_auth_header, jp_base_url
) -> None:
    """``/scripting/script/{id}/openapi.json`` is valid OpenAPI 3.1 whose run operations
    take the script's schema as their body; requests made from it and their answers
    validate against it (schemathesis generates many more in test_schemathesis)."""
    typed = await publish("papermill_typed", name="typed report")
    schema = body_json(await api("scripting", "script", typed, "schema"))
    document = body_json(await api("scripting", "script", typed, "openapi.json"))
    validate(document)
    assert document["info"]["title"] == "typed report" and document["info"]["version"] == "1"
    run, background = f"/scripting/script/{typed}/run", f"/scripting/script/{typed}/background"
    operations = {
        operation["operationId"]: (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    methods = ("post", "get", "put", "patch", "delete")
    suffixes = ("", "Get", "Put", "Patch", "Delete")
    assert operations == {
        **{f"runTypedReport{s}": (run, m) for s, m in zip(suffixes, methods, strict=True)},
        **{f"queueTypedReport{s}": (background, m) for s, m in zip(suffixes, methods, strict=True)},
        "getTypedReportExecution": (
            f"/scripting/log/script/{typed}/execution/{{executionId}}",
            "get",
        ),
    }
    assert "requestBody" not in document["paths"][run]["get"]
    body = document["paths"][run]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"] == schema["properties"]
    assert body["schema"]["additionalProperties"] is False
    queried = {p["name"] for p in document["paths"][run]["get"]["parameters"] if p["in"] == "query"}
    assert queried == set(schema["properties"])

    # Served with this server's base_url; the requests below are checked by their paths.
    assert document["servers"][0]["url"] == jp_base_url
    openapi = OpenAPI.from_dict({**document, "servers": [{"url": "/"}]})

    async def call(method: str, path: str, body: bytes | None, query: str = "") -> HTTPResponse:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        params = {k: v[0] for k, v in parse_qs(query).items()}
        answer = await api(*path.strip("/").split("/"), method=method, body=body, params=params)
        request = MockRequest(
            "http://localhost",
            method,
            path,
            args=params,
            headers={**jp_auth_header, **headers},
            data=body,
            content_type=headers.get("Content-Type", ""),
        )
        response = MockResponse(
            answer.body,
            status_code=answer.code,
            headers=dict(answer.headers.get_all()),
            content_type=answer.headers.get("Content-Type", ""),
        )
        if answer.code < 400:
            openapi.validate_request(request)
        openapi.validate_response(request, response)
        return answer

    # A body made from the document: each property's default, one of them changed.
    values = {k: p["default"] for k, p in body["schema"]["properties"].items() if "default" in p}
    values |= {"c": 7, "d": ["x", "y"]}
    answer = await call("POST", run, json.dumps(values).encode())
    assert answer.code == 200
    assert json.loads(answer.body) == {**values, "f": None}
    answer = await call("GET", run, None, 'c=5&e=false&d=["z"]')
    assert answer.code == 200
    assert json.loads(answer.body) == {
        "a": 2.25,
        "b": "hello",
        "c": 5,
        "d": ["z"],
        "e": False,
        "f": None,
    }
    refused = await call("POST", run, b'{"c": "seven", "colour": 1}')
    assert refused.code == 422
    assert {p["name"] for p in body_json(refused)["problems"]} == {"c", "colour"}
    queued = await call("POST", background, b'{"c": 1}')
    assert queued.code == 202
    execution = f"/scripting/log/script/{typed}/execution/{body_json(queued)['executionId']}"
    for _ in range(300):
        done = await call("GET", execution, None)
        if done.code != 202:
            break
        await asyncio.sleep(0.1)
    assert done.code == 200 and json.loads(done.body)["c"] == 1


async def test_a_script_without_parameters_takes_any_body(api, publish) -> None:
    script_id = await publish("echo", name="écho ☃")
    document = body_json(await api("scripting", "script", script_id, "openapi.json"))
    validate(document)
    post = document["paths"][f"/scripting/script/{script_id}/run"]["post"]
    assert post["operationId"] == "runCho"
    assert post["requestBody"]["content"] == {"*/*": {"schema": {}}}
    get = document["paths"][f"/scripting/script/{script_id}/run"]["get"]
    # No query parameters: only the callback header.
    assert [p["name"] for p in get["parameters"]] == ["X-Scripting-Callback"]
    assert get["requestBody"]["content"] == {"*/*": {"schema": {}}}
