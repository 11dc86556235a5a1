"""Who calls (identity) and what they may do (permission) on the /scripting routes.

Identity: an API key (``Authorization: Bearer jsk_…``) names a tenant, a user and a role;
anything else goes to the server's own identity provider (its token, password, or
JupyterHub), whose user is the admin of the default tenant. Keys are accepted on the
/scripting routes only — never on the rest of the server (/api/contents, terminals…),
which is why this wraps the server's provider for our handlers instead of replacing it.

Permission: the roles of SPEC §5 for key holders; the server's own authorizer (e.g.
JupyterHub's) for the server's users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado import web

from .rules import API_KEY_PREFIX, Role

if TYPE_CHECKING:
    from .service import ScriptingService

DEFAULT_TENANT = "default"

#: Resources of the /scripting routes, as the handlers name them for ``@authorized``.
SCRIPTS = "scripting:scripts"
RUNS = "scripting:runs"
LOGS = "scripting:logs"
KEYS = "scripting:keys"

#: (resource, action) pairs each role may do. Actions are jupyter_server's: read, write,
#: execute.
PERMISSIONS: dict[str, frozenset[tuple[str, str]]] = {
    "admin": frozenset(
        (resource, action)
        for resource in (SCRIPTS, RUNS, LOGS, KEYS)
        for action in ("read", "write", "execute")
    ),
    "developer": frozenset(
        {(SCRIPTS, "read"), (SCRIPTS, "write"), (RUNS, "execute"), (LOGS, "read")}
    ),
    "runner": frozenset({(RUNS, "execute")}),
}


@dataclass(frozen=True)
class Principal:
    """The caller as the scripting service sees it."""

    tenant: str
    user: str
    role: Role
    key_id: str | None = None  # None: the server's own user (token, password, Hub)

    def may(self, resource: str, action: str) -> bool:
        """Whether the role allows ``action`` on ``resource``."""
        return (resource, action) in PERMISSIONS[self.role]


def bearer_key(handler: web.RequestHandler) -> str | None:
    """The API key in ``Authorization: Bearer jsk_…``, if that is what was sent."""
    scheme, _, credentials = handler.request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials.startswith(API_KEY_PREFIX):
        return credentials
    return None


class ScriptingIdentityProvider:
    """API keys first, then the server's own identity provider (for our handlers only).

    Everything but ``get_user`` and ``is_token_authenticated`` is the server's provider's.
    """

    def __init__(self, fallback: IdentityProvider, service: ScriptingService) -> None:
        self.fallback = fallback
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        key = bearer_key(handler)
        if key is not None:
            await self.service.ensure_ready()
            record = await self.service.store.authenticate_api_key(key)
            if record is None:
                # A wrong, unknown or revoked key is a stranger: no fallback to the
                # server's token (it was not a token), and no cookie either.
                return None
            handler._scripting_principal = Principal(  # type: ignore[attr-defined]
                record.tenant, record.user, record.role, record.id
            )
            # A credential in a header, not an ambient cookie: no XSRF check needed.
            handler._token_authenticated = True  # type: ignore[attr-defined]
            return User(username=f"{record.tenant}/{record.user}", name=record.user)
        user = await ensure_async(self.fallback.get_user(handler))
        if user is not None:
            handler._scripting_principal = Principal(  # type: ignore[attr-defined]
                DEFAULT_TENANT, user.username, "admin"
            )
        return user

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return bool(getattr(handler, "_token_authenticated", False)) or bool(
            self.fallback.is_token_authenticated(handler)
        )


class ScriptingAuthorizer:
    """Roles for key holders; the server's authorizer for the server's own users."""

    def __init__(self, fallback: Authorizer) -> None:
        self.fallback = fallback

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)

    async def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        principal: Principal | None = getattr(handler, "_scripting_principal", None)
        if principal is None:
            return False
        if principal.key_id is None:
            return bool(
                await ensure_async(self.fallback.is_authorized(handler, user, action, resource))
            )
        return principal.may(resource, action)
