"""Authentication, scopes and tenancy over HTTP; every error is problem+json."""

from __future__ import annotations

from datetime import timedelta

import httpx

from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.platform.context import Context
from iplus.security.tokens import TokenSigner
from tests.api.helpers import PASSWORD, assert_problem, login, tenant


async def test_wrong_password_is_401_problem(ctx: Context, client: httpx.AsyncClient) -> None:
    await tenant(ctx, client, "Acme", ["user"])
    response = await login(client, "admin@acme.test", "not-the-password")
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "password" in str(body["detail"])
    assert_problem(await login(client, "nobody@acme.test"), 401)


async def test_expired_token_is_401_problem(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    principal = ctx.accounts.signer.verify(t.token)
    expired, _ = TokenSigner(ctx.secret_key, timedelta(seconds=-30)).issue(principal)
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    body = assert_problem(response, 401)
    assert "expired" in str(body["detail"])
    forged, _ = TokenSigner("x" * 40, timedelta(minutes=5)).issue(principal)
    assert_problem(await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}), 401)
    assert_problem(await client.get("/api/v1/auth/me"), 401)


async def test_token_refresh_rotates(ctx: Context, client: httpx.AsyncClient) -> None:
    await tenant(ctx, client, "Acme", ["user"])
    first = (await login(client, "admin@acme.test")).json()
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert me.json()["org_id"] == first["org_id"]
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reuse, 401)


async def test_other_tenants_objects_answer_404(ctx: Context, client: httpx.AsyncClient) -> None:
    a = await tenant(ctx, client, "Org A", ["user"])
    b = await tenant(ctx, client, "Org B", ["provider"])
    key_b = await client.post("/api/v1/api-keys", headers=b.auth, json={"name": "b", "scopes": ["read"]})
    assert key_b.status_code == 201
    key_id = key_b.json()["id"]
    assert (await client.get(f"/api/v1/api-keys/{key_id}", headers=b.auth)).status_code == 200
    assert_problem(await client.get(f"/api/v1/api-keys/{key_id}", headers=a.auth), 404)
    assert_problem(await client.delete(f"/api/v1/api-keys/{key_id}", headers=a.auth), 404)
    assert_problem(await client.get(f"/api/v1/orgs/{b.org_id}", headers=a.auth), 404)
    b_user = (await client.get("/api/v1/users", headers=b.auth)).json()[0]["id"]
    assert_problem(await client.get(f"/api/v1/users/{b_user}", headers=a.auth), 404)
    # and lists show only one's own
    assert [o["id"] for o in (await client.get("/api/v1/orgs", headers=a.auth)).json()] == [a.org_id]
    assert (await client.get("/api/v1/api-keys", headers=a.auth)).json() == []
    # an admin of A cannot create users in B
    body = {"email": "x@b.test", "password": PASSWORD, "org_id": b.org_id}
    assert_problem(await client.post("/api/v1/users", headers=a.auth, json=body), 404)


async def test_read_scoped_key_cannot_write(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    created = await client.post("/api/v1/api-keys", headers=t.auth, json={"name": "ro", "scopes": ["read"]})
    assert created.status_code == 201
    key = created.json()["key"]
    ro = {"X-API-Key": key}
    me = await client.get("/api/v1/auth/me", headers=ro)
    assert me.status_code == 200 and me.json()["scopes"] == ["read"]
    assert (await client.get("/api/v1/users", headers=ro)).status_code == 200
    body = assert_problem(
        await client.post("/api/v1/api-keys", headers=ro, json={"name": "x", "scopes": ["read"]}),
        403,
    )
    assert "write" in str(body["detail"])
    # the key also works as a bearer token, with the same limits
    bearer = {"Authorization": f"Bearer {key}"}
    assert_problem(
        await client.post("/api/v1/users", headers=bearer, json={"email": "z@z.io", "password": PASSWORD}),
        403,
    )
    # the key is never shown again
    listed = (await client.get("/api/v1/api-keys", headers=t.auth)).json()
    assert all("key" not in k for k in listed)
    # revoked keys stop working
    assert (
        await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=t.auth)
    ).status_code == 200
    assert_problem(await client.get("/api/v1/auth/me", headers=ro), 401)


async def test_operator_manages_organisations(ctx: Context, client: httpx.AsyncClient) -> None:
    op = await tenant(ctx, client, "Platform", ["operator"])
    user = await tenant(ctx, client, "Acme", ["user"])
    created = await client.post(
        "/api/v1/orgs", headers=op.auth, json={"name": "Farm Co", "roles": ["provider", "user"]}
    )
    assert created.status_code == 201 and created.json()["roles"] == ["provider", "user"]
    assert_problem(
        await client.post("/api/v1/orgs", headers=op.auth, json={"name": "Farm Co", "roles": ["user"]}),
        409,
    )
    assert_problem(
        await client.post("/api/v1/orgs", headers=user.auth, json={"name": "Mine", "roles": ["user"]}),
        403,
    )
    names = {o["name"] for o in (await client.get("/api/v1/orgs", headers=op.auth)).json()}
    assert names == {"Platform", "Acme", "Farm Co"}
    # an operator may add a user to another organisation
    farm = created.json()["id"]
    added = await client.post(
        "/api/v1/users",
        headers=op.auth,
        json={"email": "f@farm.io", "password": PASSWORD, "org_id": farm},
    )
    assert added.status_code == 201 and added.json()["org_id"] == farm


async def test_validation_errors_list_each_field(ctx: Context, client: httpx.AsyncClient) -> None:
    op = await tenant(ctx, client, "Platform", ["operator"])
    response = await client.post(
        "/api/v1/orgs", headers=op.auth, json={"name": "", "roles": ["pilot"], "x": 1}
    )
    body = assert_problem(response, 422)
    locs = {tuple(e["loc"]) for e in body["errors"]}  # type: ignore[union-attr]
    assert ("body", "name") in locs and ("body", "x") in locs and ("body", "roles", "0") in locs
    assert_problem(
        await client.post(
            "/api/v1/orgs",
            headers=op.auth,
            content=b"{not json",
        ),
        422,
    )
    assert_problem(await client.get("/api/v1/nowhere"), 404)
    assert_problem(await client.put("/api/v1/orgs", headers=op.auth), 405)


async def test_health_reports_each_backend(ctx: Context, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["live"] is True and body["ready"] is True
    assert body["backends"]["metadata"]["backend"] == "sqlite"
    assert body["backends"]["compute"]["ok"] is True
    assert (await client.get("/api/v1/health/ready")).status_code == 200


async def test_health_names_the_backend_that_is_down(settings: Settings) -> None:
    # nothing listens on port 1: a real connection failure, not a mock
    down = build_context(settings.model_copy(update={"database_url": "postgresql://u@127.0.0.1:1/x"}))
    try:
        transport = httpx.ASGITransport(app=build_asgi(down))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            live = await c.get("/api/v1/health")
            assert live.status_code == 200 and live.json()["ready"] is False
            body = assert_problem(await c.get("/api/v1/health/ready"), 503)
    finally:
        await down.stop()
    assert body["backends"]["metadata"]["ok"] is False  # type: ignore[index]
    assert body["backends"]["compute"]["ok"] is True  # type: ignore[index]
    assert "metadata" in str(body["detail"])


async def test_security_headers_and_openapi(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    assert all(p.startswith("/api/v1/") for p in spec["paths"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
