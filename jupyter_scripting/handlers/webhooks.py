"""The webhook routes (README, "Webhooks"): a run's deliveries, and the tenant's
signing secret."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import LOGS, SCRIPTS
from ..models import delivery_model, iso, signing_secret_model
from .base import ScriptingHandler
from .logs import ExecutionHandler


class DeliveriesHandler(ExecutionHandler):
    """``.../execution/{executionId}/deliveries``: where the run's end was POSTed, each
    attempt with its status and time."""

    @web.authenticated
    @authorized("read", LOGS)
    async def get(self, script_id: str, execution_id: str) -> None:
        script_id, execution_id = self.script_id(script_id), self.execution_id(execution_id)
        found = await self.service.list_deliveries(self.tenant, script_id, execution_id)
        self.write_json(
            {"executionId": execution_id, "deliveries": [delivery_model(d) for d in found]}
        )


class SigningSecretHandler(ScriptingHandler):
    """``/scripting/webhook/secret``: whether the tenant has a signing secret (GET), and a
    new one in its place (POST), shown once."""

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def get(self) -> None:
        self.write_json(signing_secret_model(await self.service.signing_secret_info(self.tenant)))

    @web.authenticated
    @authorized("write", SCRIPTS)
    async def post(self) -> None:
        record, secret = await self.service.rotate_signing_secret(self.tenant)
        self.write_json({"secret": secret, "createdAt": iso(record.created_at)}, status=201)
