"""Regressions: refresh races, key escalation, stale tokens, store-refused input, aware times, 500 headers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.core.errors import InvalidInput
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models import User
from iplus.platform.context import Context
from iplus.security.accounts import Seed
from tests.api.helpers import PASSWORD, assert_problem, login, tenant
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_ctx(request: pytest.FixtureRequest, tmp_path: Path):
    """A context on each metadata store."""
    settings = Settings(var_dir=tmp_path / "var")
    schema = None
    if request.param == "postgresql":
        settings = settings.model_copy(update={"database_url": PG_URL})
        schema = request.getfixturevalue("pg_schema")
    ctx = build_context(settings, search_path=schema)
    await upgrade(ctx.db)
    yield ctx
    await ctx.stop()


async def test_concurrent_refresh_with_one_token_succeeds_once(any_ctx: Context) -> None:
    org = await any_ctx.accounts.create_organisation("Acme", ["user"])
    await any_ctx.accounts.create_user(org_id=org.id, email="a@acme.io", name="A", password=PASSWORD)
    pair = await any_ctx.accounts.login("a@acme.io", PASSWORD)
    results = await asyncio.gather(
        *(any_ctx.accounts.refresh(pair.refresh_token) for _ in range(6)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1


async def test_store_refused_values_are_422_not_500(any_ctx: Context) -> None:
    transport = httpx.ASGITransport(app=build_asgi(any_ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        t = await tenant(any_ctx, client, "Acme", ["user"])
        r = await client.post("/api/v1/auth/token", data={"username": "a\x00@b.c", "password": "x" * 12})
        assert r.status_code in (401, 422) and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert_problem(await client.get("/api/v1/users/%00", headers=t.auth), 422)
        long = "x" * 240 + "@acme.io"
        r = await client.post("/api/v1/users", headers=t.auth, json={"email": long, "password": PASSWORD})
        assert r.status_code in (201, 422), r.text


async def test_admin_key_cannot_create_users(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    key = (
        await client.post(
            "/api/v1/api-keys", headers=t.auth, json={"name": "k", "scopes": ["write", "admin"]}
        )
    ).json()["key"]
    body = {"email": "new@acme.io", "password": PASSWORD, "is_admin": True}
    assert_problem(await client.post("/api/v1/users", headers={"X-API-Key": key}, json=body), 403)


async def test_disabled_user_cannot_write_with_an_old_token(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    async with ctx.db.transaction() as s:
        await s.execute(update(User).where(User.email == t.email).values(is_active=False))
    assert_problem(
        await client.post("/api/v1/api-keys", headers=t.auth, json={"name": "k", "scopes": ["read"]}), 401
    )


async def test_timestamps_are_utc_aware_on_create_and_read(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    created = (
        await client.post("/api/v1/api-keys", headers=t.auth, json={"name": "k", "scopes": ["read"]})
    ).json()
    read = (await client.get(f"/api/v1/api-keys/{created['id']}", headers=t.auth)).json()
    assert created["created_at"] == read["created_at"]
    assert read["created_at"].endswith(("Z", "+00:00"))


async def test_unexpected_errors_keep_security_headers(ctx: Context) -> None:
    app = build_asgi(ctx)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/api/v1/boom")
    assert_problem(r, 500)
    assert r.headers["x-frame-options"] == "DENY" and "bug" not in r.text


async def test_first_accounts_are_all_or_nothing(ctx: Context) -> None:
    operator = Seed("Platform operations", ["operator"], "user@iplus.local", "Admin")
    demo = Seed("Demo user", ["user"], "user@iplus.local", "Demo")
    with pytest.raises(InvalidInput, match="named twice"):
        await ctx.accounts.bootstrap([operator, demo])
    with pytest.raises(InvalidInput, match="at least 10"):
        await ctx.accounts.bootstrap([Seed("Platform operations", ["operator"], "a@b.io", "A", "short")])
    assert await ctx.accounts.count_users() == 0 and await ctx.accounts.all_organisations() == []
    made = await ctx.accounts.bootstrap([operator])
    assert made is not None and len(made[0][1]) >= 10
    assert await ctx.accounts.bootstrap([operator]) is None


async def test_password_change_ends_sessions_and_refresh_tokens(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await tenant(ctx, client, "Acme", ["user"])
    pair = (await login(client, "admin@acme.test")).json()
    await ctx.accounts.set_password("admin@acme.test", "a-new-long-password")
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401
    )
    assert_problem(await login(client, "admin@acme.test"), 401)
    assert (await login(client, "admin@acme.test", "a-new-long-password")).status_code == 200
