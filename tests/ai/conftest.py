"""A started platform with one tenant pair, for training through the API on ingested telemetry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from iplus.app import build_asgi
from iplus.config import Settings
from tests.access.conftest import ROOM_MODEL, Platform, started
from tests.api.helpers import tenant


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    ctx = await started(
        Settings(
            var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0", compute_url="local://?workers=1"
        )
    )
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as client:
        a = await tenant(ctx, client, "Org A", ["provider", "user"])
        b = await tenant(ctx, client, "Org B", ["user"])
        for t in (a, b):
            r = await client.post(
                "/api/v1/device-types", headers=t.auth, json={"name": "room", "thing_model": ROOM_MODEL}
            )
            assert r.status_code == 201, r.text
        yield Platform(ctx, client, a, b)
    await ctx.stop()
