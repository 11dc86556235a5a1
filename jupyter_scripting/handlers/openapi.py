"""``/scripting/openapi.json``: the API's OpenAPI 3.1 document (``api/openapi.yaml``)."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

import yaml
from tornado import web

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
