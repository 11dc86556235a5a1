"""The identity of a /scripting caller as jupyter_server sees it: a ``ScriptingUser`` with
its tenant and role, decided by real ``IdentityProvider``/``Authorizer`` subclasses (the
HTTP behaviour is in test_auth.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth import Authorizer, User

from jupyter_scripting.auth import (
    KEYS,
    LOGS,
    RUNS,
    SCRIPTS,
    ScriptingAuthorizer,
    ScriptingUser,
)
from jupyter_scripting.rules import ROLES


@dataclass
class HubUser(User):
    """A user as JupyterHub's identity provider makes it: with more than ``User`` has."""

    hub_user: dict[str, Any] = field(default_factory=dict)


class RecordingAuthorizer(Authorizer):
    """A server authorizer that allows reading only, and records whom it was asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[User] = []

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        self.asked.append(user)
        return action == "read"


def test_each_role_may_what_the_readme_says() -> None:
    allowed = {
        role: {
            (r, a)
            for r in (SCRIPTS, RUNS, LOGS, KEYS)
            for a in ("read", "write", "execute")
            if ScriptingUser(username="t/u", role=role, key_id="k").may(r, a)
        }
        for role in ROLES
    }
    assert allowed["runner"] == {(RUNS, "execute")}
    assert allowed["developer"] == {
        (SCRIPTS, "read"),
        (SCRIPTS, "write"),
        (RUNS, "execute"),
        (LOGS, "read"),
    }
    assert len(allowed["admin"]) == 12


async def test_the_server_authorizer_decides_for_the_servers_own_user() -> None:
    fallback = RecordingAuthorizer()
    authorizer = ScriptingAuthorizer(fallback)
    hub_user = HubUser(username="ada", hub_user={"scopes": ["access:servers"]})
    user = ScriptingUser(username="ada", server_user=hub_user)
    assert await authorizer.is_authorized(None, user, "read", SCRIPTS)
    assert not await authorizer.is_authorized(None, user, "write", SCRIPTS)
    assert fallback.asked == [hub_user, hub_user]  # the Hub's own object, with its scopes


async def test_a_key_holder_is_decided_by_its_role_alone() -> None:
    fallback = RecordingAuthorizer()
    authorizer = ScriptingAuthorizer(fallback)
    runner = ScriptingUser(username="acme/bot", tenant="acme", role="runner", key_id="k")
    assert await authorizer.is_authorized(None, runner, "execute", RUNS)
    assert not await authorizer.is_authorized(None, runner, "read", LOGS)
    assert fallback.asked == []


async def test_anyone_else_is_refused() -> None:
    authorizer = ScriptingAuthorizer(RecordingAuthorizer())
    assert not await authorizer.is_authorized(None, User(username="x"), "read", SCRIPTS)
