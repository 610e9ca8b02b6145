"""A started platform (SQLite, DuckDB, embedded broker) with the demo monitoring network seeded once per module."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from iplus.app import build_asgi, build_context
from iplus.apps.environment.demo import seed_network
from iplus.apps.environment.sources import acting_for
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.api.helpers import PASSWORD, login


@dataclass
class Network:
    """The running platform, the provider organisation's principal, when it was seeded, an API client."""

    ctx: Context
    caller: Principal
    seeded_at: float
    client: httpx.AsyncClient
    email: str
    auth: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def network(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Network]:
    var = Path(tmp_path_factory.mktemp("env")) / "var"
    ctx = build_context(Settings(var_dir=var, broker_url="embedded://127.0.0.1:0"))
    await upgrade(ctx.db)
    await ctx.start()
    org = await ctx.accounts.create_organisation("Env provider", ["provider"])
    email = "admin@env-provider.test"
    await ctx.accounts.create_user(org_id=org.id, email=email, name="Env", password=PASSWORD, is_admin=True)
    caller = acting_for(org.id)
    now = time.time()
    await seed_network(ctx, caller, now)
    await ctx.rules.drain()
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = (await login(client, email)).json()["access_token"]
        yield Network(ctx, caller, now, client, email, {"Authorization": f"Bearer {token}"})
    await ctx.stop()
