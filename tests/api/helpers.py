"""Helpers for API tests: seed tenants and log in through the API itself."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from iplus.platform.context import Context

PASSWORD = "a-long-password"


@dataclass
class Tenant:
    """An organisation with an administrator and that administrator's token."""

    org_id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def tenant(ctx: Context, client: httpx.AsyncClient, name: str, roles: list[str]) -> Tenant:
    org = await ctx.accounts.create_organisation(name, roles)
    email = f"admin@{name.lower().replace(' ', '-')}.test"
    await ctx.accounts.create_user(org_id=org.id, email=email, name=name, password=PASSWORD, is_admin=True)
    response = await login(client, email)
    assert response.status_code == 200, response.text
    return Tenant(org.id, email, response.json()["access_token"])


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is RFC 9457 problem+json with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body
