"""``/scripting/openapi.json``: the API's OpenAPI 3.1 document (``openapi.yaml``); and
``/scripting/script/{id}/openapi.json``: one script's own document, made from it."""

from __future__ import annotations

import copy
import functools
import json
import re
from importlib.resources import files
from typing import Any

import yaml
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import SCRIPTS
from .base import ScriptingHandler


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The hand-written document shipped in the package, parsed once."""
    text = files("jupyter_scripting").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


class OpenApiHandler(ScriptingHandler):
    """The document as JSON, its server being this one (at its ``base_url``). Any
    authenticated caller may read it, whatever its role: it describes, it holds nothing."""

    @web.authenticated
    def get(self) -> None:
        self.finish(served_document(self.base_url), set_content_type="application/json")


@functools.cache
def served_document(base_url: str) -> str:
    """The document as JSON with ``base_url`` as its server (built once per server)."""
    document = {
        **openapi_document(),
        "servers": [{"url": base_url, "description": "This Jupyter server."}],
    }
    return json.dumps(document)


class ScriptOpenApiHandler(ScriptingHandler):
    """``/scripting/script/{id}/openapi.json``: the document of one script's runs, with its
    parameters as their request body (whoever may read the script may read it)."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str) -> None:
        schema = await self.service.parameters_schema(self.tenant, self.script_id(script_id))
        self.write_json(script_document(self.base_url, schema))


#: The operations of the service's document a script's own document is made of: the run
#: routes (every method runs the script), and reading a run's answer back.
_RUN_METHODS = ("post", "get", "put", "patch", "delete")
_SCRIPT_OPERATIONS = (
    *(("/scripting/script/{scriptId}/run", method, "run") for method in _RUN_METHODS),
    *(("/scripting/script/{scriptId}/background", method, "queue") for method in _RUN_METHODS),
    ("/scripting/log/script/{scriptId}/execution/{executionId}", "get", "get{}Execution"),
)
#: JSON Schema types a query value is read as directly; others are JSON in the query.
_SCALARS = {"string", "integer", "number", "boolean"}


def script_document(base_url: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one script (README, "Parameters"), so that a client can
    be generated for this one script: its run routes, made from the service's own
    operations, with its parameters' JSON Schema as their JSON request body (GET: none)
    and as query parameters. ``schema`` is ``ServiceCore.parameters_schema``'s."""
    service = openapi_document()
    script = schema["x-script"]
    script_id, name, version = script["scriptId"], script["name"], script["version"]
    takes = "properties" in schema
    body_schema = {k: v for k, v in schema.items() if k not in ("$schema", "x-script")}
    paths: dict[str, Any] = {}
    for template, method, verb in _SCRIPT_OPERATIONS:
        operation = copy.deepcopy(service["paths"][template][method])
        operation["operationId"] = _operation_id(verb, name, method)
        operation.pop("tags", None)
        if takes and "requestBody" in operation:
            operation["parameters"] = [
                *operation.get("parameters", []),  # X-Scripting-Callback
                *(_query_parameter(key, prop) for key, prop in schema["properties"].items()),
            ]
            if method == "get":
                del operation["requestBody"]
            else:
                operation["requestBody"] = {
                    "required": False,
                    "description": "The script's parameters as a JSON object; a parameter "
                    "left out keeps the notebook's default (or its query value).",
                    "content": {"application/json": {"schema": body_schema}},
                }
        item = paths.setdefault(template.replace("{scriptId}", script_id), {})
        if "{executionId}" in template:
            item["parameters"] = [{"$ref": "#/components/parameters/executionId"}]
        item[method] = operation
    return {
        "openapi": service["openapi"],
        "info": {
            "title": name,
            "summary": f"The script {name!r} of jupyter_scripting, version {version}.",
            "description": schema.get("description")
            or "Run the script with its parameters; every other route of the service is "
            "in /scripting/openapi.json.",
            "version": str(version),
        },
        "servers": [{"url": base_url, "description": "This Jupyter server."}],
        "security": service["security"],
        "paths": paths,
        "components": service["components"],
        "x-script": script,
    }


def _operation_id(verb: str, name: str, method: str) -> str:
    """``runGreeting`` (POST), ``runGreetingGet``, ``queueGreeting``,
    ``getGreetingExecution``, … (a name without ASCII letters or digits: ``Script``)."""
    words = re.findall(r"[A-Za-z0-9]+", name) or ["script"]
    camel = "".join(word[:1].upper() + word[1:] for word in words)
    if "{}" in verb:
        return verb.format(camel)
    return verb + camel + ("" if method == "post" else method.capitalize())


def _query_parameter(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A parameter as a query parameter: a scalar as text, anything else as JSON."""
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if "description" in prop:
        parameter["description"] = prop["description"]
    if prop.get("type") in _SCALARS or "type" not in prop:
        parameter["schema"] = prop
    else:
        parameter["content"] = {"application/json": {"schema": prop}}
    return parameter
