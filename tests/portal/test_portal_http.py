"""Portal over HTTP: login with CSRF, a home page per role, security headers, open-redirect guard."""

from __future__ import annotations

import base64
import re

import httpx

from iplus.platform.context import Context
from tests.api.helpers import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _csrf(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def _member(ctx: Context, name: str, roles: list[str]) -> str:
    org = await ctx.accounts.create_organisation(name, roles)
    email = f"{name.lower()}@portal.test"
    await ctx.accounts.create_user(org_id=org.id, email=email, name=name, password=PASSWORD, is_admin=True)
    return email


async def _login(client: httpx.AsyncClient, email: str, next_: str = "/portal") -> httpx.Response:
    token = await _csrf(client)
    return await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": next_}
    )


async def test_login_without_csrf_token_is_refused(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["user"])
    await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 403
    assert "form has expired" in response.text
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "iplus_session" not in response.cookies or "uid" not in response.text


async def test_each_role_lands_on_its_home(ctx: Context, client: httpx.AsyncClient) -> None:
    cases = {
        "operator": "Platform operator",
        "provider": "Service provider",
        "user": "Service user",
    }
    for role, heading in cases.items():
        client.cookies.clear()
        email = await _member(ctx, f"Org{role}", [role])
        response = await _login(client, email)
        assert response.status_code == 303 and response.headers["location"] == "/portal"
        home = await client.get("/portal", follow_redirects=True)
        assert home.status_code == 200
        assert f"<h1>{heading}</h1>" in home.text
        assert str(home.url).endswith(f"/portal/{role}")
        # other roles' homes are closed to this organisation
        other = next(r for r in cases if r != role)
        assert (await client.get(f"/portal/{other}")).status_code == 403


async def test_wrong_password_shows_error_and_no_session(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["user"])
    token = await _csrf(client)
    response = await client.post(
        "/login", data={"email": email, "password": "wrong-password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "wrong e-mail or password" in response.text
    assert (await client.get("/portal")).headers["location"].startswith("/login")


async def test_logout_needs_csrf_and_ends_session(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["user"])
    await _login(client, email)
    assert (await client.post("/logout")).status_code == 403
    token = await _csrf(client, "/portal/user")
    assert (await client.post("/logout", data={"csrf_token": token})).status_code == 303
    assert (await client.get("/portal/user")).status_code == 303


async def test_next_parameter_cannot_leave_the_site(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["user"])
    response = await _login(client, email, next_="//evil.example/")
    assert response.headers["location"] == "/portal"


async def test_api_key_created_from_portal_is_shown_once(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["provider"])
    await _login(client, email)
    token = await _csrf(client, "/portal/org")
    created = await client.post(
        "/portal/org/api-keys",
        data={"name": "ci", "scopes": ["read", "write"], "csrf_token": token},
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key">(ipk_[^<]+)<', created.text)
    assert key
    # the key travels in this page only: not in the cookie, not on the next page
    assert key.group(1) not in created.headers.get("set-cookie", "")
    for value in client.cookies.values():
        assert key.group(1) not in base64.b64decode(value.split(".")[0] + "==").decode(errors="ignore")
    assert key.group(1) not in (await client.get("/portal/org")).text
    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": key.group(1)})
    assert me.json()["scopes"] == ["read", "write"]


async def test_a_copied_cookie_stops_working_after_logout(ctx: Context, client: httpx.AsyncClient) -> None:
    email = await _member(ctx, "Acme", ["user"])
    await _login(client, email)
    copied = dict(client.cookies)
    token = await _csrf(client, "/portal/user")
    await client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    client.cookies.update(copied)
    assert (await client.get("/portal/user")).status_code == 303


async def test_non_ascii_csrf_token_is_refused_not_a_crash(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"email": "a@b.c", "password": "x", "csrf_token": "é"})
    assert response.status_code == 403


async def test_pages_carry_security_headers_and_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    css = await client.get("/static/iplus.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
