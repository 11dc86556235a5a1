"""The tenant's variables and secrets (README, "Variables and secrets"): listed by name,
set and replaced by PUT, deleted; a secret's value is write-only."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import SCRIPTS
from ..models import variable_model
from ..service import parse_json
from .base import ScriptingHandler


class VariablesHandler(ScriptingHandler):
    """``/scripting/variables``: the tenant's variables by name (never their values)."""

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def get(self) -> None:
        found = await self.service.list_variables(self.tenant)
        self.write_json({"variables": [variable_model(v) for v in found]})


class VariableHandler(ScriptingHandler):
    """``/scripting/variables/{name}``: read (a plain one's value too), set, delete."""

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def get(self, name: str) -> None:
        record, value = await self.service.get_variable(self.tenant, name)
        self.write_json(variable_model(record, value))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def put(self, name: str) -> None:
        record, created = await self.service.put_variable(
            self.tenant, name, parse_json(self.request.body)
        )
        self.write_json(variable_model(record), status=201 if created else 200)

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def delete(self, name: str) -> None:
        await self.service.delete_variable(self.tenant, name)
        self.set_status(204)
        self.finish()
