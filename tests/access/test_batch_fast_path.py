"""Batch ingest through the column-wise path: stored once, whole or not at all, every reason listed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from iplus.infra.telemetry import Message, Selection
from iplus.infra.tsdb.columns import ColumnarMessages
from tests.access.conftest import Platform
from tests.api.helpers import assert_problem

T0 = 1_764_000_000


def batch(first: int, n: int, devices: list[str], seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed + first)
    return [
        {
            "device_id": devices[i % len(devices)],
            "msg_id": f"m{i}",
            "ts": T0 + i / 8,
            "values": {"temp": round(rng.uniform(-40, 85), 3), "hum": round(rng.uniform(0, 100), 3)},
        }
        for i in range(first, first + n)
    ]


async def stored(platform: Platform, devices: list[str]) -> list[tuple[str, str, datetime, float]]:
    rows = await platform.ctx.telemetry.readings(Selection(platform.a.org_id, devices), limit=100_000)
    return sorted((r.device_id, r.key, r.ts, r.value) for r in rows)  # type: ignore[misc]


def expected(items: list[dict[str, Any]]) -> list[tuple[str, str, datetime, float]]:
    return sorted(
        (m["device_id"], k, datetime.fromtimestamp(int(m["ts"] * 1_000_000) / 1e6, UTC), v)
        for m in items
        for k, v in m["values"].items()
    )


def watch_appends(platform: Platform) -> list[bool]:
    """Per append to the store: did the messages come with their columns."""
    seen: list[bool] = []
    store = platform.ctx.telemetry
    append = store.append

    async def watched(messages: Sequence[Message]) -> list[bool]:
        seen.append(isinstance(messages, ColumnarMessages))
        return await append(messages)

    store.append = watched  # type: ignore[method-assign]
    return seen


async def test_a_big_batch_is_stored_once_and_resends_are_counted(platform: Platform) -> None:
    c, a = platform.client, platform.a
    devices = [f"fast-{i}" for i in range(7)]
    for d in devices:
        await platform.device(a, d)
    heard: list[list[Message]] = []
    platform.ctx.ingestor.listeners.append(heard.append)
    columnar = watch_appends(platform)
    first = batch(0, 600, devices)
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": first})
    assert r.json() == {"stored": 600, "duplicates": 0}, r.text
    assert await stored(platform, devices) == expected(first)
    assert columnar == [True]  # the column-wise path took it
    # listeners hear each new message once, with its readings
    got = [m for call in heard for m in call]
    assert sorted((m.device_id, m.msg_id, sorted(m.readings)) for m in got) == sorted(
        (
            m["device_id"],
            m["msg_id"],
            sorted((k, int(m["ts"] * 1_000_000), v) for k, v in m["values"].items()),
        )
        for m in first
    )
    # half resent, half new, and one new message twice in the same body
    second = batch(300, 600, devices)
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": [*second, second[-1]]})
    assert r.json() == {"stored": 300, "duplicates": 301}, r.text
    assert columnar == [True, True]
    kept = first + second[300:]  # a resend's values are not stored again
    assert await stored(platform, devices) == expected(kept)
    latest = {(x.device_id, x.key): x.value for x in await platform.ctx.telemetry.latest(Selection(a.org_id))}
    last = {m["device_id"]: m for m in kept}  # later messages are newer
    assert latest == {(d, k): v for d, m in last.items() for k, v in m["values"].items()}


async def test_refusals_in_a_big_batch_list_every_reason_and_store_nothing(platform: Platform) -> None:
    c, a = platform.client, platform.a
    devices = ["fast-a", "fast-b"]
    for d in devices:
        await platform.device(a, d)
    await platform.device(platform.b, "fast-other")
    items = batch(0, 500, devices)
    items[3]["values"]["temp"] = 85.5
    items[250]["values"]["hum"] = True
    items[499] = {"device_id": "fast-other", "values": {"temp": 1.0}}
    body = assert_problem(await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": items}), 422)
    assert body["refused"] == 3
    assert body["errors"] == [
        {"index": 3, "device_id": "fast-b", "reasons": ["temp: 85.5 is above the maximum 85"]},
        {"index": 250, "device_id": "fast-a", "reasons": ["hum: expected a number, got bool"]},
        {"index": 499, "device_id": "fast-other", "reasons": ["unknown device"]},
    ]
    assert await stored(platform, devices) == []
    # integers are numbers: the per-reading path stores them as floats
    items = batch(0, 50, devices)
    items[7]["values"]["temp"] = 20
    columnar = watch_appends(platform)
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": items})
    assert r.json() == {"stored": 50, "duplicates": 0}, r.text
    assert columnar == [False]
    assert await stored(platform, devices) == expected(items)
