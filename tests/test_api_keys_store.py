"""API keys in the store, against SQLite (always) and PostgreSQL (when configured).

The fixtures come from ``test_store`` (imported by name so that pytest finds them here;
none of its tests is imported, so none runs twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from jupyter_scripting.errors import ApiKeyNotFound, BadRequest, StoreError
from jupyter_scripting.rules import parse_api_key
from jupyter_scripting.store import Store
from jupyter_scripting.store.records import ApiKeyRecord

from . import test_store
from .test_store import ALICE, BOB, T0, Backend, Clock, _alembic_config, assert_utc

# The store fixtures, under their own names so that pytest finds them in this module.
backend = test_store.backend
clock = test_store.clock
store = test_store.store

KEY = re.compile(r"jsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
GOOD_ID = "0123456789abcdef"

MALFORMED_KEYS: list[Any] = [
    None,
    42,
    b"jsk_0123456789abcdef_secret",
    "",
    "jsk_",
    "jsk__",
    f"jsk_{GOOD_ID}",
    f"jsk_{GOOD_ID}_",  # empty secret
    "jsk_0123456789ABCDEF_secret",  # upper-case id
    "jsk_0123456789abcde_secret",  # 15 hex digits
    "jsk_0123456789abcdef0_secret",  # 17 hex digits
    "jsk_0123456789abcdeg_secret",  # not hex
    "JSK_0123456789abcdef_secret",
    "xsk_0123456789abcdef_secret",
    "jsk-0123456789abcdef-secret",
    "0123456789abcdef_secret",
    f" jsk_{GOOD_ID}_secret",
    f"jsk_{GOOD_ID}_secret ",
    f"jsk_{GOOD_ID}_secret\n",
    f"jsk_{GOOD_ID}_sec ret",
    f"jsk_{GOOD_ID}_sec\tret",
    f"jsk_{GOOD_ID}_sec\x00ret",
    f"jsk_{GOOD_ID}_sécret",
    f"jsk_{GOOD_ID}_secret=",
    f"Bearer jsk_{GOOD_ID}_secret",
    f"jsk_{GOOD_ID}_" + "a" * 180,  # 201 characters
    "' OR 1=1 --",
]

MALFORMED_IDS: list[Any] = [
    None,
    "",
    "0123456789ABCDEF",
    "0123456789abcde",
    "0123456789abcdef0",
    " 0123456789abcdef",
    "0123456789abcdef\n",
    f"jsk_{GOOD_ID}",
    "' OR 1=1 --",
]


def raw_key_rows(backend: Backend) -> list[dict[str, Any]]:
    """Every row of ``api_keys`` as the database holds it, behind the store's back."""
    with backend.engine() as engine, engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).mappings().all()
        return [dict(row) for row in rows]


# -- the key format -------------------------------------------------------------------
def test_parse_api_key_reads_well_formed_keys() -> None:
    assert parse_api_key(f"jsk_{GOOD_ID}_secret") == (GOOD_ID, "secret")
    # The secret is URL-safe base64: it may hold "_" and "-" itself.
    assert parse_api_key(f"jsk_{GOOD_ID}__a-b_c") == (GOOD_ID, "_a-b_c")
    longest = f"jsk_{GOOD_ID}_" + "a" * 179
    assert len(longest) == 200
    assert parse_api_key(longest) == (GOOD_ID, "a" * 179)
    for _ in range(200):
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        assert parse_api_key(f"jsk_{key_id}_{secret}") == (key_id, secret)


@pytest.mark.parametrize("key", MALFORMED_KEYS)
def test_parse_api_key_rejects_malformed_keys(key: Any) -> None:
    assert parse_api_key(key) is None


# -- create, authenticate -------------------------------------------------------------
async def test_create_then_authenticate(store: Store) -> None:
    before = dt.datetime.now(dt.UTC)
    record, key = await store.create_api_key(ALICE, "ada", "developer")
    match = KEY.fullmatch(key)
    assert match is not None, key
    assert record.id == match.group(1)
    assert (record.tenant, record.user, record.role, record.revoked_at) == (
        ALICE,
        "ada",
        "developer",
        None,
    )
    assert_utc(record.created_at)
    assert before <= record.created_at <= dt.datetime.now(dt.UTC)

    assert await store.authenticate_api_key(key) == record
    assert await store.authenticate_api_key(key) == record  # nothing is consumed

    other, other_key = await store.create_api_key(ALICE, "ada", "developer")
    assert other.id != record.id
    assert other_key != key
    assert await store.authenticate_api_key(other_key) == other


@pytest.mark.parametrize("role", ["admin", "developer", "runner"])
async def test_every_role_can_be_given(store: Store, role: Any) -> None:
    record, key = await store.create_api_key(BOB, "bo", role)
    assert record.role == role
    authenticated = await store.authenticate_api_key(key)
    assert authenticated is not None
    assert authenticated.role == role


async def test_the_secret_is_not_stored(backend: Backend, store: Store) -> None:
    record, key = await store.create_api_key(ALICE, "ada", "admin")
    parsed = parse_api_key(key)
    assert parsed is not None
    _, secret = parsed
    [row] = raw_key_rows(backend)
    assert row["id"] == record.id
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    for value in row.values():
        assert secret not in str(value)
        assert key not in str(value)
    assert "secret_hash" not in ApiKeyRecord.__dataclass_fields__


async def test_wrong_unknown_and_malformed_keys_are_refused(store: Store) -> None:
    record, key = await store.create_api_key(ALICE, "ada", "developer")
    parsed = parse_api_key(key)
    assert parsed is not None
    key_id, secret = parsed
    other_secret = secrets.token_urlsafe(32)
    refused = [
        f"jsk_{key_id}_{other_secret}",  # wrong secret
        f"jsk_{key_id}_{secret[:-1]}",  # truncated
        f"jsk_{key_id}_{secret}A",  # extended
        f"jsk_{key_id}_{secret.swapcase()}",
        f"jsk_{GOOD_ID}_{secret}",  # unknown id, right secret
        f"jsk_{secrets.token_hex(8)}_{other_secret}",
        *MALFORMED_KEYS,
        f" {key}",
        f"{key}\n",
        key.upper(),
    ]
    for candidate in refused:
        assert await store.authenticate_api_key(candidate) is None, candidate
    assert await store.authenticate_api_key(key) == record


async def test_a_key_with_an_unknown_stored_role_is_refused(backend: Backend, store: Store) -> None:
    record, key = await store.create_api_key(ALICE, "ada", "runner")
    with backend.engine() as engine, engine.begin() as connection:
        connection.execute(
            text("UPDATE api_keys SET role = 'root' WHERE id = :id"), {"id": record.id}
        )
    assert await store.authenticate_api_key(key) is None


@pytest.mark.parametrize(
    ("tenant", "user", "role"),
    [
        (ALICE, "ada", "owner"),
        (ALICE, "ada", "Admin"),
        (ALICE, "ada", ""),
        (ALICE, "ada", None),
        ("", "ada", "admin"),
        (ALICE, "", "admin"),
        (None, "ada", "admin"),
        (ALICE, 7, "admin"),
        ("t" * 256, "ada", "admin"),
        (ALICE, "u" * 256, "admin"),
        ("ali\nce", "ada", "admin"),
        (ALICE, "ada\x00", "admin"),
        (ALICE, "a\u202eda", "admin"),  # bidi override
        (ALICE, "a\u2028da", "admin"),  # line separator
    ],
)
async def test_bad_role_tenant_or_user_is_a_bad_request_without_a_query(
    tmp_path: Path, tenant: Any, user: Any, role: Any
) -> None:
    # Any query on this store would fail with StoreError: BadRequest proves none was made.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    broken = Store(f"sqlite:///{blocker / 'db.sqlite'}")
    try:
        with pytest.raises(BadRequest) as info:
            await broken.create_api_key(tenant, user, role)
        assert info.value.status == 400
    finally:
        await broken.close()


async def test_long_and_unicode_names_are_kept(store: Store) -> None:
    record, key = await store.create_api_key("t" * 255, "Zoë Ünïcode 🚀", "runner")
    assert await store.authenticate_api_key(key) == record
    assert record.tenant == "t" * 255
    assert record.user == "Zoë Ünïcode 🚀"


async def test_malformed_keys_and_ids_make_no_query(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    broken = Store(f"sqlite:///{blocker / 'db.sqlite'}")
    try:
        for key in MALFORMED_KEYS:
            assert await broken.authenticate_api_key(key) is None
        for key_id in MALFORMED_IDS:
            with pytest.raises(ApiKeyNotFound):
                await broken.revoke_api_key(key_id)
            with pytest.raises(ApiKeyNotFound):
                await broken.revoke_api_key(key_id, ALICE)
        # While well-formed ones do query.
        with pytest.raises(StoreError):
            await broken.authenticate_api_key(f"jsk_{GOOD_ID}_secret")
        with pytest.raises(StoreError):
            await broken.revoke_api_key(GOOD_ID)
    finally:
        await broken.close()


# -- revoke ---------------------------------------------------------------------------
async def test_revoke_is_idempotent_and_refuses_the_key(store: Store, clock: Clock) -> None:
    clock.now = T0
    record, key = await store.create_api_key(ALICE, "ada", "admin")
    kept, kept_key = await store.create_api_key(ALICE, "ada", "admin")

    clock.now = T0 + dt.timedelta(minutes=1)
    revoked = await store.revoke_api_key(record.id, ALICE)
    assert revoked.revoked_at == clock.now
    assert_utc(revoked.revoked_at)
    assert (revoked.id, revoked.tenant, revoked.user, revoked.role, revoked.created_at) == (
        record.id,
        ALICE,
        "ada",
        "admin",
        T0,
    )
    assert await store.authenticate_api_key(key) is None

    clock.now = T0 + dt.timedelta(minutes=2)
    again = await store.revoke_api_key(record.id)  # any tenant
    assert again == revoked  # the first revocation time is kept
    assert await store.authenticate_api_key(key) is None
    assert await store.authenticate_api_key(kept_key) == kept


async def test_revoke_is_scoped_by_tenant(store: Store) -> None:
    record, key = await store.create_api_key(ALICE, "ada", "developer")
    with pytest.raises(ApiKeyNotFound) as info:
        await store.revoke_api_key(record.id, BOB)
    assert info.value.status == 404
    assert await store.authenticate_api_key(key) == record  # untouched
    with pytest.raises(ApiKeyNotFound):
        await store.revoke_api_key(GOOD_ID)  # well-formed, unknown
    with pytest.raises(ApiKeyNotFound):
        await store.revoke_api_key(GOOD_ID, ALICE)
    assert (await store.revoke_api_key(record.id, ALICE)).revoked_at is not None


# -- list -----------------------------------------------------------------------------
async def test_list_per_tenant_and_all_newest_first(store: Store, clock: Clock) -> None:
    assert await store.list_api_keys() == []
    created = []
    for i, tenant in enumerate([ALICE, BOB, ALICE, BOB, ALICE]):
        clock.now = T0 + dt.timedelta(seconds=i)
        created.append((await store.create_api_key(tenant, f"user{i}", "runner"))[0])
    newest_first = created[::-1]

    assert await store.list_api_keys() == newest_first
    assert await store.list_api_keys(ALICE) == [k for k in newest_first if k.tenant == ALICE]
    assert await store.list_api_keys(BOB) == [k for k in newest_first if k.tenant == BOB]
    assert await store.list_api_keys("nobody") == []

    clock.now = T0 + dt.timedelta(minutes=1)
    revoked = await store.revoke_api_key(created[2].id)
    listed = await store.list_api_keys(ALICE)
    assert [k.id for k in listed] == [created[4].id, created[2].id, created[0].id]
    assert listed[1] == revoked
    assert [k.id for k in await store.list_api_keys(ALICE, include_revoked=False)] == [
        created[4].id,
        created[0].id,
    ]
    assert len(await store.list_api_keys(include_revoked=False)) == 4


# -- schema ---------------------------------------------------------------------------
async def test_migration_0003_goes_down_and_up(backend: Backend, store: Store) -> None:
    _, key = await store.create_api_key(ALICE, "ada", "admin")
    with backend.engine() as engine, engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("0002",)
        ]
        command.upgrade(config, "head")
        assert connection.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
    assert await store.authenticate_api_key(key) is None  # the key went with the table
    assert await store.list_api_keys() == []
