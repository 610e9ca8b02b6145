"""One contract for the metadata store, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import current_revision, head_revision, upgrade
from iplus.infra.db.models import ApiKey, Organisation
from iplus.infra.db.repos import ApiKeyRepository
from iplus.security.accounts import Accounts
from iplus.security.tokens import TokenSigner

SECRET = "s" * 40


def accounts(db: Database) -> Accounts:
    return Accounts(db, TokenSigner(SECRET, timedelta(minutes=5)), timedelta(days=1))


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    await upgrade(database)  # second run is a no-op
    assert await current_revision(database) == head_revision()

    def tables(conn: object) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with database.engine.connect() as conn:
        names = await conn.run_sync(tables)
    assert {"organisations", "users", "memberships", "api_keys", "refresh_tokens"} <= names


async def test_organisation_names_are_unique(database: Database) -> None:
    acc = accounts(database)
    org = await acc.create_organisation("Acme", ["provider", "user", "provider"])
    assert org.roles == ["provider", "user"]
    with pytest.raises(Conflict):
        await acc.create_organisation("Acme", ["user"])
    with pytest.raises(InvalidInput):
        await acc.create_organisation("Other", ["admiral"])
    with pytest.raises(InvalidInput):
        await acc.create_organisation("Other", [])


async def test_users_emails_unique_case_insensitive_and_nothing_half_stored(
    database: Database,
) -> None:
    acc = accounts(database)
    org = await acc.create_organisation("Acme", ["user"])
    member = await acc.create_user(org_id=org.id, email="Ann@Acme.io", name="Ann", password="p" * 12)
    assert member.user.email == "ann@acme.io"
    with pytest.raises(Conflict):
        await acc.create_user(org_id=org.id, email="ANN@acme.io", name="Ann 2", password="p" * 12)
    with pytest.raises(InvalidInput):
        await acc.create_user(org_id=org.id, email="bob@acme.io", name="B", password="short")
    with pytest.raises(NotFound):
        await acc.create_user(org_id="nope", email="carl@acme.io", name="C", password="p" * 12)
    # the failed attempts stored nothing
    assert [m.user.email for m in await acc.list_members(org.id)] == ["ann@acme.io"]
    assert await acc.count_users() == 1


async def test_tenant_repository_scopes_every_query(database: Database) -> None:
    acc = accounts(database)
    a = await acc.create_organisation("A", ["user"])
    b = await acc.create_organisation("B", ["user"])
    async with database.transaction() as s:
        key_b = await ApiKeyRepository(s, b.id).add(ApiKey(name="b-key", key_hash="h" * 64, scopes=["read"]))
        await ApiKeyRepository(s, a.id).add(ApiKey(name="a-key", key_hash="i" * 64, scopes=["read"]))
    async with database.transaction() as s:
        repo_a = ApiKeyRepository(s, a.id)
        assert [k.name for k in await repo_a.list()] == ["a-key"]
        with pytest.raises(NotFound):
            await repo_a.get(key_b.id)
        assert (await ApiKeyRepository(s, b.id).get(key_b.id)).name == "b-key"
    member_b = await acc.create_user(org_id=b.id, email="b@b.io", name="B", password="p" * 12)
    with pytest.raises(NotFound):
        await acc.get_member(a.id, member_b.user.id)


async def test_password_login_and_single_use_refresh(database: Database) -> None:
    acc = accounts(database)
    org = await acc.create_organisation("Acme", ["provider", "user"])
    await acc.create_user(
        org_id=org.id, email="ann@acme.io", name="Ann", password="correct horse", is_admin=True
    )
    with pytest.raises(Unauthenticated):
        await acc.login("ann@acme.io", "wrong horse")
    with pytest.raises(Unauthenticated):
        await acc.login("nobody@acme.io", "correct horse")
    pair = await acc.login("ANN@acme.io", "correct horse")
    principal = acc.signer.verify(pair.access_token)
    assert principal.org_id == org.id
    assert principal.roles == {Role.PROVIDER, Role.USER}
    assert principal.scopes == {Scope.READ, Scope.WRITE, Scope.ADMIN}
    again = await acc.refresh(pair.refresh_token)
    assert again.refresh_token != pair.refresh_token
    with pytest.raises(Unauthenticated):
        await acc.refresh(pair.refresh_token)  # used once already
    with pytest.raises(Forbidden):
        await acc.login("ann@acme.io", "correct horse", org_id="someone-else")


async def test_api_keys_hashed_scoped_revocable(database: Database) -> None:
    acc = accounts(database)
    org = await acc.create_organisation("Acme", ["user"])
    await acc.create_user(org_id=org.id, email="ann@acme.io", name="Ann", password="p" * 12, is_admin=True)
    admin = await acc.authenticate("ann@acme.io", "p" * 12)
    key, plain = await acc.create_api_key(admin, "reader", ["read"], expires_in_days=30)
    assert plain.startswith("ipk_") and plain not in key.key_hash
    caller = await acc.authenticate_api_key(plain)
    assert caller.scopes == {Scope.READ} and caller.api_key_id == key.id
    stored = await acc.get_api_key(admin, key.id)
    assert stored.expires_at is not None
    assert stored.expires_at.replace(tzinfo=stored.expires_at.tzinfo or UTC) > datetime.now(UTC)
    await acc.revoke_api_key(admin, key.id)
    with pytest.raises(Conflict):
        await acc.revoke_api_key(admin, key.id)
    with pytest.raises(Unauthenticated):
        await acc.authenticate_api_key(plain)
    with pytest.raises(Forbidden):
        await acc.create_api_key(caller, "escalate", ["write"])


async def test_deleting_an_organisation_cascades(database: Database) -> None:
    acc = accounts(database)
    org = await acc.create_organisation("Gone", ["user"])
    await acc.create_user(org_id=org.id, email="g@gone.io", name="G", password="p" * 12)
    async with database.transaction() as s:
        await s.delete(await s.get(Organisation, org.id))
    assert await acc.list_members(org.id) == []
