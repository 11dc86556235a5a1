"""A tenant's variables and secrets (README, "Variables and secrets"). Values arrive
here encrypted (``crypto.Keyring``) and leave encrypted: the store never sees one in
plain text. Every lookup is scoped by tenant."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import VariableNotFound
from .database import Database, _as_utc, _rowcount
from .models import Variable
from .records import VariableRecord


def _variable_record(row: Variable, *, with_value: bool = False) -> VariableRecord:
    return VariableRecord(
        name=row.name,
        secret=row.secret,
        created_at=_as_utc(row.created_at),
        updated_at=_as_utc(row.updated_at),
        value=bytes(row.value) if with_value else None,
    )


class VariableStore(Database):
    """The ``variables`` table."""

    async def put_variable(
        self, tenant: str, name: str, value: bytes, *, secret: bool
    ) -> tuple[VariableRecord, bool]:
        """Create or replace the variable ``name`` (its encrypted ``value``); whether it
        was created."""

        def work(session: Session) -> tuple[VariableRecord, bool]:
            now = self._now()
            existed = session.scalar(
                select(Variable.name).where(Variable.tenant == tenant, Variable.name == name)
            )
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = insert(Variable).values(
                tenant=tenant, name=name, secret=secret, value=value, created_at=now, updated_at=now
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Variable.tenant, Variable.name],
                    set_={"secret": secret, "value": value, "updated_at": now},
                )
            )
            row = session.get(Variable, (tenant, name), populate_existing=True)
            assert row is not None
            return _variable_record(row), existed is None

        return await self._transact("store the variable", work)

    async def list_variables(self, tenant: str) -> list[VariableRecord]:
        """The tenant's variables by name, without their values."""

        def work(session: Session) -> list[VariableRecord]:
            rows = session.scalars(
                select(Variable).where(Variable.tenant == tenant).order_by(Variable.name)
            )
            return [_variable_record(row) for row in rows]

        return await self._transact("list the variables", work)

    async def get_variable(self, tenant: str, name: str) -> VariableRecord:
        """The variable with its (encrypted) value; ``VariableNotFound`` if there is none."""

        def work(session: Session) -> VariableRecord:
            row = session.get(Variable, (tenant, name))
            if row is None:
                raise VariableNotFound(name)
            return _variable_record(row, with_value=True)

        return await self._transact("read the variable", work)

    async def read_variables(self, tenant: str, names: Iterable[str]) -> list[VariableRecord]:
        """Those of ``names`` the tenant has, with their (encrypted) values: what a run
        gets."""
        wanted = list(names)
        if not wanted:
            return []

        def work(session: Session) -> list[VariableRecord]:
            rows = session.scalars(
                select(Variable).where(Variable.tenant == tenant, Variable.name.in_(wanted))
            )
            return [_variable_record(row, with_value=True) for row in rows]

        return await self._transact("read the run's variables", work)

    async def delete_variable(self, tenant: str, name: str) -> None:
        def work(session: Session) -> None:
            result = session.execute(
                delete(Variable).where(Variable.tenant == tenant, Variable.name == name),
                execution_options={"synchronize_session": False},
            )
            if _rowcount(result) == 0:
                raise VariableNotFound(name)

        await self._transact("delete the variable", work)
