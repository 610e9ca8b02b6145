"""A started platform (embedded broker on a free port) with two tenants and a room-sensor type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.platform.context import Context
from tests.api.helpers import Tenant, tenant

ROOM_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Room sensor",
    "properties": {
        "temp": {"type": "number", "unit": "Cel", "minimum": -40, "maximum": 85, "readOnly": True},
        "hum": {"type": "number", "unit": "%RH", "minimum": 0, "maximum": 100, "readOnly": True},
        "door": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["eco", "comfort", "off"]},
        "count": {"type": "integer", "minimum": 0},
    },
    "actions": {
        "setMode": {"input": {"type": "string", "enum": ["eco", "comfort", "off"]}},
        "reboot": {},
    },
    "events": {"overheat": {"data": {"type": "number"}}},
}


@dataclass
class Platform:
    """A running context, an HTTP client on it, and two tenants."""

    ctx: Context
    client: httpx.AsyncClient
    a: Tenant
    b: Tenant

    async def device(self, t: Tenant, device_id: str, type_name: str = "room") -> str:
        """Create a device of ``type_name`` in tenant ``t``; returns its token."""
        r = await self.client.post(
            "/api/v1/devices", headers=t.auth, json={"type": type_name, "id": device_id}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


async def started(settings: Settings, schema: str | None = None) -> Context:
    ctx = build_context(settings, search_path=schema)
    await upgrade(ctx.db)
    await ctx.start()
    return ctx


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    ctx = await started(Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0"))
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        a = await tenant(ctx, client, "Org A", ["provider", "user"])
        b = await tenant(ctx, client, "Org B", ["user"])
        for t in (a, b):
            r = await client.post(
                "/api/v1/device-types", headers=t.auth, json={"name": "room", "thing_model": ROOM_MODEL}
            )
            assert r.status_code == 201, r.text
        yield Platform(ctx, client, a, b)
    await ctx.stop()
