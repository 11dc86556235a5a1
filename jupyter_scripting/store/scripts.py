"""Scripts and their immutable versions, per tenant."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .. import rules
from ..errors import (
    BadRequest,
    ScriptNotFound,
    VersionNotFound,
)
from ..retries import RetrySpec
from ..variables import script_variables
from ..webhooks import WebhookSpec
from .database import (
    _EXECUTION_COLUMNS,
    UNSET,
    Database,
    _execution_record,
    _is_int,
    _rowcount,
    _script_record,
)
from .models import Execution, Script, ScriptVersion
from .records import (
    ExecutionRecord,
    ScriptRecord,
)


class ScriptStore(Database):
    """Scripts: create, list, read, version, rename, delete."""

    async def create_script(self, tenant: str, name: str, notebook: str) -> ScriptRecord:
        """A new script at version 1; ``notebook`` is nbformat JSON text."""
        name = rules.script_name(name)

        def work(session: Session) -> ScriptRecord:
            now = self._now()
            script = Script(
                id=str(uuid.uuid4()),
                tenant=tenant,
                name=name,
                latest_version=1,
                timeout=None,
                created_at=now,
                updated_at=now,
            )
            session.add(script)
            session.flush()
            session.add(
                ScriptVersion(script_id=script.id, version=1, notebook=notebook, created_at=now)
            )
            session.flush()
            return _script_record(script)

        return await self._transact("create the script", work)

    async def list_scripts(
        self, tenant: str, *, limit: int, offset: int
    ) -> tuple[list[ScriptRecord], bool]:
        """The tenant's scripts, most recently updated first, and whether more follow."""
        rules.page(limit, offset)

        def work(session: Session) -> tuple[list[ScriptRecord], bool]:
            stmt = (
                select(Script)
                .where(Script.tenant == tenant)
                .order_by(Script.updated_at.desc(), Script.id)
                .limit(limit + 1)
                .offset(offset)
            )
            scripts = session.scalars(stmt).all()
            return [_script_record(s) for s in scripts[:limit]], len(scripts) > limit

        return await self._transact("list the scripts", work)

    async def last_executions(
        self, tenant: str, script_ids: list[str]
    ) -> dict[str, ExecutionRecord]:
        """The newest execution (of any version, in any state) of each of ``tenant``'s
        scripts in ``script_ids`` that has one: one query, for a page of a listing."""
        if not script_ids:
            return {}

        def work(session: Session) -> dict[str, ExecutionRecord]:
            # "Newest" exactly as the log orders them (date, then seq as the tie-breaker),
            # so that it is the first entry of the script's log of every version.
            rank = (
                func.row_number()
                .over(
                    partition_by=Execution.script_id,
                    order_by=(Execution.created_at.desc(), Execution.seq.desc()),
                )
                .label("rank")
            )
            ranked = (
                select(*_EXECUTION_COLUMNS, rank)
                .where(Execution.tenant == tenant, Execution.script_id.in_(script_ids))
                .subquery()
            )
            rows = session.execute(select(ranked).where(ranked.c.rank == 1))
            return {row.script_id: _execution_record(row) for row in rows}

        return await self._transact("read the scripts' last executions", work)

    async def get_script(self, tenant: str, script_id: str) -> ScriptRecord:
        """The script ``script_id`` of ``tenant`` (``ScriptNotFound`` otherwise)."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)

        def work(session: Session) -> ScriptRecord:
            return _script_record(self._script(session, tenant, script_id))

        return await self._transact("read the script", work)

    async def add_version(
        self, tenant: str, script_id: str, notebook: str, *, name: str | None = None
    ) -> ScriptRecord:
        """A new immutable version (latest + 1); ``name`` renames at the same time."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if name is not None:
            name = rules.script_name(name)

        def work(session: Session) -> ScriptRecord:
            now = self._now()
            values: dict[str, Any] = {
                # Incremented in the database: atomic on both backends (the UPDATE
                # takes the row lock on PostgreSQL, the write lock on SQLite).
                "latest_version": Script.latest_version + 1,
                "updated_at": now,
            }
            if name is not None:
                values["name"] = name
            result = session.execute(
                update(Script)
                .where(Script.id == script_id, Script.tenant == tenant)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                raise ScriptNotFound(script_id)
            script = self._script(session, tenant, script_id, for_update=True)
            session.add(
                ScriptVersion(
                    script_id=script_id,
                    version=script.latest_version,
                    notebook=notebook,
                    created_at=now,
                )
            )
            session.flush()
            return _script_record(script)

        return await self._transact("add a version to the script", work)

    async def update_script(
        self,
        tenant: str,
        script_id: str,
        *,
        name: object = UNSET,
        timeout: object = UNSET,
        parameters: object = UNSET,
        webhook: object = UNSET,
        variables: object = UNSET,
        retries: object = UNSET,
    ) -> ScriptRecord:
        """Rename, set the per-script timeout, the parameters setting, the webhook (a
        checked ``webhooks.WebhookSpec``) and/or the variables its runs get (``None``
        clears any of them); no new version."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        values: dict[str, Any] = {}
        if name is not UNSET:
            values["name"] = rules.script_name(name)
        if timeout is not UNSET:
            values["timeout"] = rules.timeout(timeout)
        if parameters is not UNSET:
            values["parameters"] = rules.parameters_mode(parameters)
        if webhook is not UNSET:
            if not (webhook is None or isinstance(webhook, WebhookSpec)):
                raise TypeError("webhook must be a WebhookSpec or None")
            values["webhook"] = None if webhook is None else webhook.to_json()
        if variables is not UNSET:
            if not (variables is None or isinstance(variables, tuple | list)):
                raise TypeError("variables must be a sequence of names or None")
            names = script_variables(None if variables is None else list(variables))
            values["variables"] = json.dumps(names) if names else None
        if retries is not UNSET:
            if not (retries is None or isinstance(retries, RetrySpec)):
                raise TypeError("retries must be a RetrySpec or None")
            values["retries"] = None if retries is None else retries.to_json()

        def work(session: Session) -> ScriptRecord:
            result = session.execute(
                update(Script)
                .where(Script.id == script_id, Script.tenant == tenant)
                .values(updated_at=self._now(), **values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                raise ScriptNotFound(script_id)
            return _script_record(self._script(session, tenant, script_id))

        return await self._transact("update the script", work)

    async def delete_script(self, tenant: str, script_id: str) -> None:
        """Delete the script, all its versions and all its executions."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)

        def work(session: Session) -> None:
            self._script(session, tenant, script_id, for_update=True)
            # ON DELETE CASCADE would do it, but do not depend on the backend enforcing it.
            options = {"synchronize_session": False}
            session.execute(
                delete(Execution).where(Execution.script_id == script_id),
                execution_options=options,
            )
            session.execute(
                delete(ScriptVersion).where(ScriptVersion.script_id == script_id),
                execution_options=options,
            )
            session.execute(
                delete(Script).where(Script.id == script_id, Script.tenant == tenant),
                execution_options=options,
            )

        await self._transact("delete the script", work)

    async def get_notebook(
        self, tenant: str, script_id: str, version: int | None = None
    ) -> tuple[ScriptRecord, int, str]:
        """(script, version, notebook JSON) of ``version`` (latest when None)."""
        if not rules.is_uuid(script_id):
            raise ScriptNotFound(script_id)
        if version is not None and not _is_int(version):
            raise BadRequest("The version must be an integer.")

        def work(session: Session) -> tuple[ScriptRecord, int, str]:
            script = self._script(session, tenant, script_id)
            wanted = script.latest_version if version is None else version
            notebook = session.scalar(
                select(ScriptVersion.notebook).where(
                    ScriptVersion.script_id == script_id, ScriptVersion.version == wanted
                )
            )
            if notebook is None:
                raise VersionNotFound(script_id, wanted)
            return _script_record(script), wanted, notebook

        return await self._transact("read the notebook", work)
