"""The catalog over HTTP: publish, find, match, order, accept, and a device's telemetry finishing the order."""

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
from tests.api.helpers import Tenant, assert_problem, tenant
from tests.catalog.helpers import MILLING_INPUTS, qos

MILL_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Milling machine",
    "properties": {
        "progress": {"type": "number", "unit": "%", "minimum": 0, "maximum": 100},
        "state": {"type": "string", "enum": ["idle", "working", "done", "failed"]},
        "spindle": {"type": "number", "unit": "1/min"},
    },
}


@dataclass
class World:
    ctx: Context
    c: httpx.AsyncClient
    p: Tenant
    u: Tenant
    op: Tenant


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    ctx = build_context(Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0"))
    await upgrade(ctx.db)
    await ctx.start()
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        p = await tenant(ctx, c, "Mill Co", ["provider"])
        u = await tenant(ctx, c, "Buyer", ["user"])
        op = await tenant(ctx, c, "Platform", ["operator"])
        yield World(ctx, c, p, u, op)
    await ctx.stop()


def offer_body(thing_id: str | None = None, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Precision milling of aluminium parts",
        "capability_type": "milling",
        "inputs": MILLING_INPUTS,
        "outputs": {"type": "object", "properties": {"parts": {"type": "integer", "unit": "1"}}},
        "qos": qos(price=180, time=6, rel=0.97, avail=0.99, cap=2),
        "calendar": [{"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}],
        "sla": {
            "targets": {"time": {"max": 8, "unit": "h"}},
            "penalties": [{"breach": "time", "amount": 20, "unit": "EUR"}],
        },
        "things": [thing_id] if thing_id else [],
    }
    body.update(kw)
    return body


async def test_publish_find_match_order_and_twin_progress(world: World) -> None:
    c, p, u, op = world.c, world.p, world.u, world.op
    r = await c.post("/api/v1/device-types", headers=p.auth, json={"name": "mill", "thing_model": MILL_MODEL})
    assert r.status_code == 201, r.text
    r = await c.post("/api/v1/devices", headers=p.auth, json={"type": "mill", "id": "mill-1"})
    assert r.status_code == 201, r.text
    device = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await c.post(
        "/api/v1/virtual-things",
        headers=p.auth,
        json={
            "kind": "resource",
            "type": "cnc_mill",
            "title": "Mill 1",
            "from_device": "mill-1",
            "location": {"lat": 48.14, "lon": 11.58},
        },
    )
    assert r.status_code == 201, r.text
    thing_id = r.json()["id"]

    r = await c.post("/api/v1/offers", headers=p.auth, json=offer_body(thing_id))
    assert r.status_code == 201, r.text
    offer = r.json()
    oid = offer["id"]
    assert offer["stage"] == "draft" and offer["current"]["devices"] == ["mill-1"]
    assert_problem(await c.get(f"/api/v1/offers/{oid}", headers=u.auth), 404)
    assert_problem(await c.post("/api/v1/offers", headers=u.auth, json=offer_body()), 403)
    bad = assert_problem(
        await c.post("/api/v1/offers", headers=p.auth, json=offer_body(capability_type="nope")), 422
    )
    assert "capability_type" in str(bad["errors"])
    assert_problem(
        await c.post(f"/api/v1/offers/{oid}/stage", headers=p.auth, json={"stage": "suspended"}), 409
    )
    r = await c.post(f"/api/v1/offers/{oid}/stage", headers=p.auth, json={"stage": "published"})
    assert r.status_code == 200 and r.json()["published_version"] == 1

    # the user finds it by text and by a super-type, and matching ranks it with reasons
    r = await c.get(
        "/api/v1/offers",
        headers=u.auth,
        params={"q": "aluminium milling", "type": "machining", "max_price": 200},
    )
    assert [o["id"] for o in r.json()["items"]] == [oid]
    assert (await c.get("/api/v1/offers", headers=u.auth, params={"type": "additive_manufacturing"})).json()[
        "total"
    ] == 0
    r = await c.post(
        "/api/v1/match",
        headers=u.auth,
        json={
            "type": "machining",
            "parameters": {"material": None, "quantity": "1", "length": "mm"},
            "max_price": 250,
            "min_reliability": 0.9,
            "latitude": 48.1,
            "longitude": 11.6,
            "radius_km": 20,
            "weights": {"price": 2, "reliability": 1},
        },
    )
    assert r.status_code == 200, r.text
    [cand] = r.json()["candidates"]
    assert cand["offer_id"] == oid and cand["reasons"]["type_path"] == ["machining", "milling"]
    assert {f["filter"] for f in cand["reasons"]["filters"]} == {"max_price", "min_reliability", "radius_km"}
    assert cand["reasons"]["criteria"]["price"]["weight"] == pytest.approx(2 / 3)
    r = await c.post(
        "/api/v1/match",
        headers=u.auth,
        json={"type": "machining", "latitude": 40.0, "longitude": 0.0, "radius_km": 5},
    )
    assert r.json()["candidates"] == [] and "radius_km" in r.json()["rejected"][0]["reason"]

    # order, accept, and the machine's telemetry over HTTP drives the order to completion
    window = {"window_start": "2026-12-01T08:00:00Z", "window_end": "2026-12-01T16:00:00Z"}
    bad = assert_problem(
        await c.post(
            "/api/v1/orders", headers=u.auth, json={"offer_id": oid, "parameters": {"material": 1}, **window}
        ),
        422,
    )
    assert any("/quantity" in e or "/material" in e for e in bad["errors"])  # type: ignore[union-attr]
    r = await c.post(
        "/api/v1/orders",
        headers=u.auth,
        json={"offer_id": oid, "parameters": {"material": "Al", "quantity": 10}, **window},
    )
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    assert (await c.get("/api/v1/orders", headers=p.auth, params={"role": "provider"})).json()["total"] == 1
    assert (await c.get("/api/v1/orders", headers=op.auth)).json()["total"] == 0
    assert_problem(
        await c.post(f"/api/v1/orders/{order_id}/status", headers=u.auth, json={"status": "accepted"}), 409
    )
    r = await c.post(f"/api/v1/orders/{order_id}/status", headers=p.auth, json={"status": "accepted"})
    assert r.json()["status"] == "accepted"
    r = await c.post(
        "/api/v1/devices/mill-1/telemetry", headers=device, json={"progress": 40, "state": "working"}
    )
    assert r.status_code in (200, 201, 202), r.text
    await world.ctx.orders.drain()
    r = await c.get(f"/api/v1/orders/{order_id}", headers=u.auth)
    body = r.json()
    assert body["status"] == "in_progress" and body["progress"] == 40
    assert body["live"]["mill-1"]["progress"]["value"] == 40
    await c.post("/api/v1/devices/mill-1/telemetry", headers=device, json={"progress": 100, "state": "done"})
    await world.ctx.orders.drain()
    body = (await c.get(f"/api/v1/orders/{order_id}", headers=p.auth)).json()
    assert body["status"] == "completed"
    assert [(h["status"], h["by"]) for h in body["history"]] == [
        ("requested", "user"),
        ("accepted", "provider"),
        ("in_progress", "twin"),
        ("completed", "twin"),
    ]

    # a new version leaves the published one alone; the operator suspends with a reason
    r = await c.put(f"/api/v1/offers/{oid}", headers=p.auth, json=offer_body(thing_id, title="Milling v2"))
    assert r.json()["latest_version"] == 2 and r.json()["published_version"] == 1
    assert [v["version"] for v in (await c.get(f"/api/v1/offers/{oid}/versions", headers=u.auth)).json()] == [
        1
    ]
    assert (
        (await c.get(f"/api/v1/offers/{oid}/versions/1", headers=u.auth))
        .json()["title"]
        .startswith("Precision")
    )
    assert_problem(
        await c.post(f"/api/v1/offers/{oid}/stage", headers=op.auth, json={"stage": "suspended"}), 422
    )
    r = await c.post(
        f"/api/v1/offers/{oid}/stage", headers=op.auth, json={"stage": "suspended", "reason": "SLA unclear"}
    )
    assert r.json()["stage"] == "suspended" and r.json()["suspended_by"] == "operator"
    history = (await c.get(f"/api/v1/offers/{oid}/history", headers=op.auth)).json()
    assert history[-1]["reason"] == "SLA unclear" and history[-1]["actor_org_id"] == op.org_id
    assert_problem(await c.get(f"/api/v1/offers/{oid}/history", headers=u.auth), 404)
    assert_problem(await c.get("/api/v1/catalog/statistics", headers=u.auth), 403)
    stats = (await c.get("/api/v1/catalog/statistics", headers=op.auth)).json()
    assert stats["offers_by_stage"] == {"suspended": 1} and stats["orders_by_status"] == {"completed": 1}
