"""Shared fixtures: a Jupyter server with the extension, and helpers to publish scripts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse
from traitlets.config import Config

from .helpers import load_notebook, postgres_url, server_config

pytest_plugins = ["pytest_jupyter.jupyter_server"]


#: The modules that take longest, longest first (measured; most of it one setup: Binder's
#: environment, schemathesis, restarts). `make test` hands whole modules to its xdist
#: workers in collection order (--dist loadscope --no-loadscope-reorder): these go first,
#: so that none of them starts last and runs alone.
SLOW_FIRST = (
    "test_binder.py",
    "test_cluster.py",
    "test_recovery.py",
    "test_run.py",
    "test_sandbox.py",
    "test_examples.py",
    "test_schemathesis.py",
    "test_cli_client.py",
    "test_attacks.py",
    "test_store_unavailable.py",
    "test_cli.py",
    "test_limits.py",
    "test_lifecycle.py",
    "test_concurrency.py",
    "test_load.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def cost(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=cost)  # stable: the order within a module is kept


def pytest_report_header() -> str:
    url, why = postgres_url()
    return f"PostgreSQL store tests: {why}" if url is None else f"PostgreSQL: {url} ({why})"


@pytest.fixture
def jp_server_config() -> Config:
    """The extension on, and no handler may be reached without authentication."""
    return server_config(sync_timeout=30.0, shutdown_grace=3.0, queue_poll_interval=0.5)


Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def api(jp_fetch: Fetch) -> Fetch:
    """``jp_fetch`` that returns error answers instead of raising them."""

    async def fetch(*parts: str, **kwargs: Any) -> HTTPResponse:
        kwargs.setdefault("raise_error", False)
        if kwargs.get("method") in ("POST", "PUT", "PATCH") and "body" not in kwargs:
            kwargs["body"] = b""
        kwargs.setdefault("allow_nonstandard_methods", True)
        return await jp_fetch(*parts, **kwargs)

    return fetch


@pytest.fixture
def publish(api: Fetch) -> Callable[..., Awaitable[str]]:
    """Publish a notebook (a name in tests/notebooks or a dict); returns the script id."""

    async def _publish(notebook: str | dict[str, Any], name: str = "test script") -> str:
        nb = load_notebook(notebook) if isinstance(notebook, str) else notebook
        response = await api(
            "scripting", "script", method="POST", body=json.dumps({"name": name, "notebook": nb})
        )
        assert response.code == 201, response.body
        return str(json.loads(response.body)["scriptId"])

    return _publish


@pytest.fixture
def raw_api(http_server_client: Any, jp_auth_header: dict[str, str], jp_base_url: str) -> Fetch:
    """Fetch a path exactly as given (already percent-encoded), with the server's token."""

    async def fetch(path: str, **kwargs: Any) -> HTTPResponse:
        headers = {**jp_auth_header, **kwargs.pop("headers", {})}
        kwargs.setdefault("raise_error", False)
        kwargs.setdefault("allow_nonstandard_methods", True)
        url = jp_base_url.rstrip("/") + "/" + path.lstrip("/")
        return await http_server_client.fetch(url, headers=headers, **kwargs)

    return fetch
