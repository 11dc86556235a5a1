"""The scripts routes (README, "HTTP API"): create, list, read, version, rename, delete
scripts; download notebooks."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth import SCRIPTS
from ..models import script_list_item, script_model
from ..rules import DEFAULT_PAGE, MAX_PAGE
from ..service import parse_json, parse_script_body
from .base import ScriptingHandler


class ScriptsHandler(ScriptingHandler):
    """``/scripting/script``: create (POST) and list (GET)."""

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def post(self) -> None:
        name, notebook = parse_script_body(self.request.body, self.text_argument("name"))
        assert name is not None
        script = await self.service.create_script(self.tenant, name, notebook)
        self.set_header("Location", url_path_join(self.base_url, "scripting", "script", script.id))
        self.write_json(script_model(script), status=201)

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self) -> None:
        limit = self.int_argument("limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
        offset = self.int_argument("offset", 0, low=0, high=2**31 - 1)
        scripts, more = await self.service.list_scripts(self.tenant, limit, offset)
        items = [script_list_item(s.script, s.last, s.schedule, s.deliveries) for s in scripts]
        self.write_json({"scripts": items, "moreElements": more})


class ScriptHandler(ScriptingHandler):
    """``/scripting/script/{id}``: read, new version, settings, delete."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str) -> None:
        script = await self.service.get_script(self.tenant, self.script_id(script_id))
        self.write_json(script_model(script))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def put(self, script_id: str) -> None:
        script_id = self.script_id(script_id)
        name, notebook = parse_script_body(
            self.request.body, self.text_argument("name"), name_required=False
        )
        script = await self.service.add_version(self.tenant, script_id, name, notebook)
        self.write_json(script_model(script))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def patch(self, script_id: str) -> None:
        script_id = self.script_id(script_id)
        script, secret = await self.service.update_script(
            self.tenant, script_id, parse_json(self.request.body)
        )
        answer = script_model(script)
        if secret is not None:  # the tenant's first webhook: its signing secret, once
            answer["signingSecret"] = secret
        self.write_json(answer)

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def delete(self, script_id: str) -> None:
        await self.service.delete_script(self.tenant, self.script_id(script_id))
        self.set_status(204)
        self.finish()


class SchemaHandler(ScriptingHandler):
    """``/scripting/script/{id}/schema``: the parameters of the latest version, as the
    JSON Schema of a run's body (README, "Parameters")."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str) -> None:
        document = await self.service.parameters_schema(self.tenant, self.script_id(script_id))
        self.write_json(document)


class NotebookHandler(ScriptingHandler):
    """``/scripting/script/{id}/notebook``: the notebook of a version (latest by default)."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str) -> None:
        version = self.get_query_argument("version", None)
        number = None if version is None else self.int_argument("version", 1, low=1, high=2**31 - 1)
        script, number, notebook = await self.service.get_notebook(
            self.tenant, self.script_id(script_id), number
        )
        self.set_header(
            "Content-Disposition", f'attachment; filename="{script.id}-v{number}.ipynb"'
        )
        self.set_header("X-Script-Version", str(number))
        self.finish(notebook, set_content_type="application/x-ipynb+json")
