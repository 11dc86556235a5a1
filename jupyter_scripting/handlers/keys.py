"""``/scripting/key``: an admin manages the API keys of its own tenant."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth import KEYS
from ..models import key_model
from ..service import parse_json
from .base import ScriptingHandler


class KeysHandler(ScriptingHandler):
    """List (GET) and create (POST ``{"user", "role"}``) the tenant's keys."""

    @web.authenticated
    @authorized("read", KEYS)
    async def get(self) -> None:
        keys = await self.service.list_api_keys(self.tenant)
        self.write_json({"keys": [key_model(k) for k in keys]})

    @web.authenticated
    @authorized("write", KEYS)
    async def post(self) -> None:
        key, secret = await self.service.create_api_key(self.tenant, parse_json(self.request.body))
        self.set_header("Location", url_path_join(self.base_url, "scripting", "key", key.id))
        # The key itself is shown this once; only its hash is stored.
        self.write_json({**key_model(key), "key": secret}, status=201)


class KeyHandler(ScriptingHandler):
    """``DELETE /scripting/key/{keyId}`` revokes a key of the tenant."""

    @web.authenticated
    @authorized("write", KEYS)
    async def delete(self, key_id: str) -> None:
        await self.service.revoke_api_key(self.tenant, key_id)
        self.set_status(204)
        self.finish()
