"""Who calls (identity) and what they may do (permission) on the /scripting routes.

Identity: an API key (``Authorization: Bearer jsk_…``) names a tenant, a user and a role;
anything else goes to the server's own identity provider (its token, password, or
JupyterHub), whose user is the admin of the default tenant. Keys are accepted on the
/scripting routes only — never on the rest of the server (/api/contents, terminals…),
which is why this wraps the server's provider for our handlers instead of replacing it.

Permission: the roles of the README's "API keys" section for key holders; the server's
own authorizer (e.g. JupyterHub's) for the server's users.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado import web

from .rules import API_KEY_PREFIX, Role

if TYPE_CHECKING:
    from jupyter_server.base.handlers import JupyterHandler

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


@dataclass
class ScriptingUser(User):
    """The caller of a /scripting route: a jupyter_server ``User`` with its tenant and role.

    A key holder's user is named ``tenant/user``; the server's own user (token, password,
    JupyterHub) is the admin of the default tenant, and ``server_user`` is that user as
    the server's identity provider made it (its authorizer decides for it).
    """

    tenant: str = DEFAULT_TENANT
    role: Role = "admin"
    key_id: str | None = None  # None: the server's own user
    server_user: User | None = field(default=None, repr=False)

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


def _scripting_user(handler: web.RequestHandler) -> ScriptingUser | None:
    """The caller ``get_user`` found, once jupyter_server has set it (else None)."""
    try:
        user = handler.current_user
    except RuntimeError:  # jupyter_server's: asked before the user was resolved
        return None
    return user if isinstance(user, ScriptingUser) else None


class ScriptingIdentityProvider(IdentityProvider):
    """API keys first, then the server's own identity provider (``fallback``).

    Only our handlers use this provider: keys are accepted on the /scripting routes and
    nowhere else on the server. What it does not decide itself (cookies, the login page,
    origin checks, the token) it leaves to the server's provider, each named below.
    """

    def __init__(self, fallback: IdentityProvider, service: ScriptingService) -> None:
        # No parent: the server's provider already has the server's configuration.
        super().__init__()
        self.fallback = fallback
        self.service = service

    async def get_user(self, handler: web.RequestHandler) -> ScriptingUser | None:
        key = bearer_key(handler)
        if key is not None:
            await self.service.ensure_ready()
            record = await self.service.store.authenticate_api_key(key)
            if record is None:
                # A wrong, unknown or revoked key is a stranger: no fallback to the
                # server's token (it was not a token), and no cookie either.
                return None
            return ScriptingUser(
                username=f"{record.tenant}/{record.user}",
                name=record.user,
                tenant=record.tenant,
                role=record.role,
                key_id=record.id,
            )
        user = await ensure_async(self.fallback.get_user(handler))
        if user is None:
            return None
        own = {f.name: getattr(user, f.name) for f in fields(User)}
        return ScriptingUser(**own, server_user=user)

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        user = _scripting_user(handler)
        if user is not None and user.key_id is not None:
            # A credential in a header, not an ambient cookie: no XSRF check needed.
            return True
        return bool(self.fallback.is_token_authenticated(handler))

    # -- the server's provider decides the rest --------------------------------------
    @property
    def token(self) -> str:  # type: ignore[override]
        return str(self.fallback.token or "")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.fallback.auth_enabled)

    @property
    def login_available(self) -> bool:
        return bool(self.fallback.login_available)

    @property
    def login_handler_class(self) -> Any:  # type: ignore[override]
        return self.fallback.login_handler_class

    def get_cookie_name(self, handler: web.RequestHandler) -> str:
        return self.fallback.get_cookie_name(handler)

    def clear_login_cookie(self, handler: web.RequestHandler) -> None:
        self.fallback.clear_login_cookie(handler)

    def _force_clear_cookie(self, handler: web.RequestHandler, *args: Any, **kwargs: Any) -> None:
        self.fallback._force_clear_cookie(handler, *args, **kwargs)

    def should_check_origin(self, handler: web.RequestHandler) -> bool:
        return bool(self.fallback.should_check_origin(handler))


class ScriptingAuthorizer(Authorizer):
    """Roles for key holders; the server's authorizer (``fallback``) for its own users."""

    def __init__(self, fallback: Authorizer) -> None:
        super().__init__()
        self.fallback = fallback

    async def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        if not isinstance(user, ScriptingUser):
            return False
        if user.key_id is None:
            server_user = user.server_user or user
            decided = self.fallback.is_authorized(
                cast("JupyterHandler", handler), server_user, action, resource
            )
            return bool(await ensure_async(decided))
        return user.may(resource, action)
