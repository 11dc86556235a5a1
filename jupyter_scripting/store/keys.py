"""API keys: created (the secret shown once, kept as a hash), listed, revoked, checked."""

from __future__ import annotations

import hmac

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from .. import rules
from ..errors import ApiKeyNotFound
from ..rules import Role
from .database import Database, _api_key_record
from .models import ApiKey
from .records import ApiKeyRecord


class KeyStore(Database):
    """API keys of every tenant."""

    async def create_api_key(self, tenant: str, user: str, role: Role) -> tuple[ApiKeyRecord, str]:
        """A new key for ``user`` of ``tenant`` with ``role``: its record and the key
        itself (``jsk_<id>_<secret>``), which is shown once and stored only as a hash."""
        rules.label("tenant", tenant)
        rules.label("user", user)
        rules.role(role)

        def work(session: Session) -> tuple[ApiKeyRecord, str]:
            key_id, secret, whole = rules.new_api_key()
            key = ApiKey(
                id=key_id,
                tenant=tenant,
                user=user,
                role=role,
                secret_hash=rules.hash_secret(secret),
                created_at=self._now(),
                revoked_at=None,
            )
            session.add(key)
            session.flush()
            return _api_key_record(key), whole

        return await self._transact("create the API key", work)

    async def list_api_keys(
        self, tenant: str | None = None, *, include_revoked: bool = True
    ) -> list[ApiKeyRecord]:
        """The keys of ``tenant`` (every tenant's when None), newest first."""

        def work(session: Session) -> list[ApiKeyRecord]:
            stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
            if tenant is not None:
                stmt = stmt.where(ApiKey.tenant == tenant)
            if not include_revoked:
                stmt = stmt.where(ApiKey.revoked_at.is_(None))
            return [_api_key_record(key) for key in session.scalars(stmt)]

        return await self._transact("list the API keys", work)

    async def revoke_api_key(self, key_id: str, tenant: str | None = None) -> ApiKeyRecord:
        """Revoke a key (idempotent); ``ApiKeyNotFound`` if there is none with that id in
        ``tenant`` (in any tenant when None)."""
        if not rules.is_api_key_id(key_id):
            raise ApiKeyNotFound(key_id if isinstance(key_id, str) else "")

        def work(session: Session) -> ApiKeyRecord:
            conditions: list[ColumnElement[bool]] = [ApiKey.id == key_id]
            if tenant is not None:
                conditions.append(ApiKey.tenant == tenant)
            # Conditional: a key revoked twice (even at once) keeps its first revocation.
            session.execute(
                update(ApiKey)
                .where(*conditions, ApiKey.revoked_at.is_(None))
                .values(revoked_at=self._now())
                .execution_options(synchronize_session=False)
            )
            key = session.scalars(select(ApiKey).where(*conditions)).one_or_none()
            if key is None:
                raise ApiKeyNotFound(key_id)
            return _api_key_record(key)

        return await self._transact("revoke the API key", work)

    async def authenticate_api_key(self, key: str) -> ApiKeyRecord | None:
        """The record of a valid, unrevoked key; None for anything else (malformed,
        unknown, wrong secret, revoked), the secret compared in constant time."""
        parsed = rules.parse_api_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        digest = rules.hash_secret(secret)

        def work(session: Session) -> ApiKeyRecord | None:
            stored = session.get(ApiKey, key_id)
            if stored is None or not hmac.compare_digest(digest, stored.secret_hash):
                return None
            if stored.revoked_at is not None or stored.role not in rules.ROLES:
                return None
            return _api_key_record(stored)

        return await self._transact("authenticate the API key", work)
