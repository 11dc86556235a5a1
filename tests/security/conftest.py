"""Fixtures of the hostile-input suite: real API keys in the server's own store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ..helpers import scripting_app


@pytest.fixture
def scripting(jp_serverapp: Any) -> Any:
    """The running ScriptingApp."""
    return scripting_app(jp_serverapp)


@pytest.fixture
def make_key(scripting: Any) -> Callable[..., Awaitable[dict[str, str]]]:
    """A new API key as ``Authorization`` headers: ``await make_key("acme", "runner")``."""

    async def make(tenant: str, role: str, user: str = "someone") -> dict[str, str]:
        await scripting.service.ensure_ready()
        _, key = await scripting.store.create_api_key(tenant, user, role)
        return {"Authorization": f"Bearer {key}"}

    return make
