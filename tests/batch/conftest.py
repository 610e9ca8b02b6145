"""Fixtures: a context whose telemetry store is open and holds two tenants' readings."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from iplus.infra.telemetry import Message, from_us, to_us
from iplus.platform.context import Context
from tests.api.helpers import Tenant, tenant

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@dataclass
class Tenants:
    """Two organisations with readings: ``a`` (three devices) and ``b`` (one)."""

    a: Tenant
    b: Tenant
    messages: list[Message]

    def numbers(self, org_id: str) -> list[tuple[str, str, datetime, float]]:
        """(device, key, ts, value) of every numeric reading of ``org_id``."""
        return [
            (m.device_id, k, from_us(ts), v)
            for m in self.messages
            if m.org_id == org_id
            for k, ts, v in m.readings
            if isinstance(v, float)
        ]


def readings_of(org_a: str, org_b: str) -> list[Message]:
    rng = random.Random(5)
    out = []
    for i in range(300):
        ts = to_us(T0 + timedelta(seconds=rng.uniform(0, 30 * 60)))
        out.append(
            Message(org_a, "t1", f"pump-{i % 3}", f"a{i}", [("flow", ts, round(rng.uniform(0, 10), 3))])
        )
    for i in range(20):
        ts = to_us(T0 + timedelta(minutes=i))
        out.append(Message(org_b, "t2", "b-secret", f"b{i}", [("flow", ts, 500.0 + i)]))
    return out


@pytest.fixture
async def tenants(ctx: Context, client: httpx.AsyncClient) -> AsyncIterator[Tenants]:
    await ctx.telemetry.open()
    a = await tenant(ctx, client, "Alpha Water", ["user"])
    b = await tenant(ctx, client, "Beta Water", ["user"])
    messages = readings_of(a.org_id, b.org_id)
    await ctx.telemetry.append(messages)
    yield Tenants(a, b, messages)
    await ctx.telemetry.close()
