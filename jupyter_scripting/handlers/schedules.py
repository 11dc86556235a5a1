"""The schedules routes (README, "Schedules"): a script's cron schedules, listed, created,
read, changed and deleted."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth import SCRIPTS
from ..models import schedule_model
from ..service import parse_json
from .base import ScriptingHandler


class SchedulesHandler(ScriptingHandler):
    """``/scripting/script/{id}/schedule``: list (GET) and create (POST)."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str) -> None:
        found = await self.service.list_schedules(self.tenant, self.script_id(script_id))
        self.write_json({"schedules": [schedule_model(s) for s in found]})

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def post(self, script_id: str) -> None:
        script_id = self.script_id(script_id)
        schedule = await self.service.create_schedule(
            self.tenant, script_id, parse_json(self.request.body)
        )
        self.set_header(
            "Location",
            url_path_join(self.base_url, "scripting", "script", script_id, "schedule", schedule.id),
        )
        self.write_json(schedule_model(schedule), status=201)


class ScheduleHandler(ScriptingHandler):
    """``/scripting/script/{id}/schedule/{scheduleId}``: read, change, delete."""

    @web.authenticated
    @authorized("read", SCRIPTS)
    async def get(self, script_id: str, schedule_id: str) -> None:
        schedule = await self.service.get_schedule(
            self.tenant, self.script_id(script_id), schedule_id
        )
        self.write_json(schedule_model(schedule))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def patch(self, script_id: str, schedule_id: str) -> None:
        schedule = await self.service.update_schedule(
            self.tenant, self.script_id(script_id), schedule_id, parse_json(self.request.body)
        )
        self.write_json(schedule_model(schedule))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def delete(self, script_id: str, schedule_id: str) -> None:
        await self.service.delete_schedule(self.tenant, self.script_id(script_id), schedule_id)
        self.set_status(204)
        self.finish()
