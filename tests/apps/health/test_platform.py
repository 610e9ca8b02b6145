"""The health domain on a started platform: demo seed, NEWS2 over HTTP ingest, API, portal pages, CGM report."""

from __future__ import annotations

import asyncio
import re
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio

from iplus.api.routes import domain_health as health_api
from iplus.app import build_asgi, build_context
from iplus.apps.demo import DemoTenants
from iplus.apps.health import cgm, demo, service
from iplus.config import Settings
from iplus.core.clock import utcnow
from iplus.infra.db.migrate import upgrade
from iplus.infra.telemetry import Selection
from iplus.platform.context import Context
from tests.api.helpers import PASSWORD, Tenant, tenant

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Region:
    ctx: Context
    client: httpx.AsyncClient
    care_home: Tenant
    family: Tenant
    operator: Tenant


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def region(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Region]:
    """One started platform with the demo care home for the module (seeding takes a few seconds)."""
    ctx = build_context(
        Settings(var_dir=tmp_path_factory.mktemp("health") / "var", broker_url="embedded://127.0.0.1:0")
    )
    await upgrade(ctx.db)
    await ctx.start()
    app = build_asgi(ctx)
    app.include_router(health_api.router, prefix="/api/v1")  # the lead adds it to create_app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        operator = await tenant(ctx, client, "Platform", ["operator"])
        home = await tenant(ctx, client, "Care Home", ["provider"])
        family = await tenant(ctx, client, "Family", ["user"])
        tenants = DemoTenants(operator.org_id, home.org_id, family.org_id)
        await demo.seed(ctx, tenants)
        await demo.seed(ctx, tenants)  # every start seeds again: nothing is made twice
        await service.start(ctx)
        yield Region(ctx, client, home, family, operator)
        await service.stop(ctx)
    await ctx.stop()


async def portal_login(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303


async def test_the_demo_care_home_the_caregiver_journey_and_the_log(region: Region) -> None:
    c, h = region.client, region.care_home.auth
    residents = (await c.get("/api/v1/care/residents", headers=h)).json()
    assert [r["label"] for r in residents] == ["Room 1", "Room 2", "Room 3", "Room 4"]
    assert all(r["caregivers"][0]["email"] == region.care_home.email for r in residents)
    offers = (await c.get("/api/v1/offers?mine=true", headers=h)).json()
    assert sorted((o["current"]["capability_type"], o["stage"]) for o in offers["items"]) == [
        ("elderly_care", "published"),
        ("nursing", "published"),
    ]
    stored = await region.ctx.telemetry.readings(
        Selection(region.care_home.org_id, [demo.CGM_DEVICE], ["glucose"]), limit=100_000
    )
    assert len(stored) == len(cgm.sample_series()) == 52281

    # a deterioration through HTTP ingest (the care home's key for its own wearable)
    room4 = next(r for r in residents if r["label"] == "Room 4")
    vitals = {
        "heart_rate": 125,
        "respiration_rate": 26,
        "spo2": 92,
        "systolic_bp": 95,
        "temperature": 38.5,
        "consciousness": "alert",
        "on_oxygen": False,
        "spo2_scale": 1,
    }
    sent = await c.post(f"/api/v1/devices/{room4['wearable_id']}/telemetry", headers=h, json=vitals)
    assert sent.status_code == 200, sent.text
    await region.ctx.ingestor.write([])  # nothing: the write above is durable already
    escalation = service.care(region.ctx).escalation
    await escalation.drain()
    mine = (await c.get("/api/v1/care/alarms?mine=true", headers=h)).json()
    assert [(a["severity"], a["value"], a["status"]) for a in mine] == [("critical", 10, "raised")]
    assert (
        mine[0]["detail"].startswith("Room 4: NEWS2 10, high clinical risk")
        and "Okafor" not in mine[0]["detail"]
    )

    # the caregiver's page shows it (and the names of the residents in their care, a logged read)
    await portal_login(c, region.care_home.email)
    page = await c.get("/portal/health/caregiver")
    assert page.status_code == 200 and "Room 4: NEWS2 10" in page.text and "Samuel Okafor" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    acked = await c.post(f"/portal/health/alarms/{mine[0]['id']}/ack", data={"csrf_token": token.group(1)})
    assert acked.status_code == 303
    alarm = (await c.get("/api/v1/care/alarms", headers=h)).json()[0]
    assert alarm["status"] == "acknowledged" and alarm["acknowledged_by"] is not None
    rows = (await c.get("/portal/health/caregiver/rows")).json()
    assert rows["alarms"][0]["status"] == "acknowledged"
    assert "Okafor" not in str(rows)

    # the record opens only for a stated purpose; the log says who, what and why
    refused = await c.get(f"/api/v1/care/residents/{room4['id']}/record", headers=h)
    assert refused.status_code == 422 and "/purpose" in refused.text
    opened = await c.get(f"/api/v1/care/residents/{room4['id']}/record?purpose=alarm%20response", headers=h)
    assert opened.json()["record"]["name"] == "Samuel Okafor"
    log = (await c.get("/api/v1/care/access-log", headers=h)).json()
    assert log["items"][0]["purpose"] == "alarm response" and log["items"][0]["action"] == "read"
    assert any(e["purpose"].startswith("caregiver page") and e["fields"] == ["name"] for e in log["items"])
    assert (await c.get("/api/v1/care/access-log/verify", headers=h)).json()["ok"]
    # the operator reads the care home's log; the family does not
    org = region.care_home.org_id
    assert (await c.get(f"/api/v1/care/access-log?org_id={org}", headers=region.operator.auth)).json()[
        "total"
    ] == log["total"]
    assert (
        await c.get(f"/api/v1/care/access-log?org_id={org}", headers=region.family.auth)
    ).status_code == 403

    # pages render
    for path in (
        "/portal/health",
        f"/portal/health/residents/{room4['id']}",
        "/portal/health/access-log?verify=true",
        "/portal/health/visits",
        "/portal/health/residents/new",
    ):
        assert (await c.get(path)).status_code == 200, path
    series = (await c.get(f"/portal/health/residents/{room4['id']}/series")).json()
    assert series["series"]["heart_rate"][-1] == 125 and series["news2"][-1]["aggregate"] == 10


async def test_the_cgm_report_matches_a_brute_force_over_the_replayed_series(region: Region) -> None:
    c, h = region.client, region.care_home.auth
    room3 = next(
        r for r in (await c.get("/api/v1/care/residents", headers=h)).json() if r["label"] == "Room 3"
    )
    report = (
        await c.get(
            f"/api/v1/care/residents/{room3['id']}/cgm?purpose=diabetes%20review&days=28&targets=standard",
            headers=h,
        )
    ).json()
    # independently: the seed shifted the series to end at seeding time; take the readings of the window
    series = cgm.sample_series()
    end = utcnow()
    stored = await region.ctx.telemetry.readings(
        Selection(region.care_home.org_id, [demo.CGM_DEVICE], ["glucose"]), limit=100_000
    )
    shift = stored[-1].ts - series[-1][0]
    window = [g for t, g in series if end - timedelta(days=28) <= t + shift < end]
    assert report["readings"] == len(window)
    assert report["overall"]["mean_glucose"] == pytest.approx(statistics.fmean(window), rel=1e-12)
    assert report["overall"]["gmi"] == pytest.approx(3.31 + 0.02392 * statistics.fmean(window), rel=1e-12)
    assert report["overall"]["time_in_range"] == pytest.approx(
        100 * sum(70 <= g <= 180 for g in window) / len(window)
    )
    assert report["trend"]["direction"] in ("improving", "worsening", "stable")
    assert len(report["weekly"]) in (4, 5) and 27 <= len(report["daily"]) <= 29
    entries = (await c.get(f"/api/v1/care/access-log?resident_id={room3['id']}", headers=h)).json()["items"]
    assert entries[0]["fields"] == ["glucose"] and entries[0]["purpose"] == "diabetes review"
    await portal_login(c, region.care_home.email)
    page = await c.get(f"/portal/health/residents/{room3['id']}/cgm")
    assert page.status_code == 200 and 'id="cgm-data"' in page.text


async def test_a_family_orders_a_visit_the_care_home_carries_it_out(region: Region) -> None:
    c = region.client
    made = await c.post(
        "/api/v1/care/visits",
        headers=region.family.auth,
        json={"title": "Dad", "focus": "mobility", "nursing": True, "deadline_h": 48},
    )
    assert made.status_code == 201, made.text
    for title in (
        "Home visit: companionship and daily living",
        "Nursing visit: medication review and vital signs",
    ):
        # the run orders the nursing check once the visit is done: wait for its order to arrive
        order = None
        for _ in range(200):
            await region.ctx.systems.runs.drain()
            received = (await c.get("/api/v1/care/visit-orders", headers=region.care_home.auth)).json()
            order = next((o for o in received if o["title"] == title and o["status"] == "requested"), None)
            if order is not None:
                break
            await asyncio.sleep(0.02)
        assert order is not None, title
        for step in ("accepted", "in_progress", "completed"):
            moved = await c.post(
                f"/api/v1/care/visit-orders/{order['id']}/status",
                headers=region.care_home.auth,
                json={"status": step},
            )
            assert moved.json()["status"] == step
    await region.ctx.systems.runs.drain()
    visits = (await c.get("/api/v1/care/visits", headers=region.family.auth)).json()
    assert visits[0]["status"] == "completed"
    assert [t["order_status"] for t in visits[0]["run"]["tasks"]] == ["completed", "completed"]
