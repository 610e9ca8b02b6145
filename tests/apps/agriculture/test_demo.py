"""The demo farm on a started platform: seeded once, replayed fast, deciding, and the valve answering on MQTT."""

from __future__ import annotations

import asyncio
from datetime import datetime

from iplus.apps.agriculture import demo
from iplus.apps.demo import DemoTenants
from iplus.infra.telemetry import Selection
from tests.apps.agriculture.conftest import Farmland, until


async def tenants(land: Farmland) -> DemoTenants:
    op = await land.ctx.accounts.create_organisation("Operator", ["operator"])
    user = await land.ctx.accounts.create_organisation("Grower", ["user"])
    return DemoTenants(op.id, land.p.org_id, user.id)


async def test_seed_is_idempotent(land: Farmland) -> None:
    t = await tenants(land)
    await demo.seed(land.ctx, t)
    await demo.seed(land.ctx, t)
    p = land.p
    assert sorted(k.name for k in await land.ctx.registry.list_types(p)) == [
        "agri-irrigation-valve",
        "agri-soil-probe",
        "agri-tractor",
        "agri-weather-station",
    ]
    assert (
        len(await land.ctx.registry.list_devices(p)) == 6
    )  # station, tractor, a probe and a valve per field
    things = await land.ctx.virtual.list_own(p)
    assert sorted((t.type, t.title) for t in things) == [
        ("farm", "Piedmont demo farm"),
        ("field", "North field"),
        ("field", "South field"),
    ]
    assert sorted(r["name"] for r in await land.ctx.rules.list_rules(p)) == ["agri-frost", "agri-soil-dry"]
    [batch] = await land.agri.trace.batches(p)
    record = await land.agri.trace.record(p, batch.id)
    assert [s.kind for s in record.steps] == ["harvest", "processing", "transport", "shelf"]
    assert record.verification().ok


async def test_the_feed_backfills_a_day_decides_and_the_valve_answers_over_mqtt(land: Farmland) -> None:
    t = await tenants(land)
    await demo.seed(land.ctx, t)
    agri, p = land.agri, land.p
    stop = asyncio.Event()
    feed = asyncio.create_task(demo.feed(land.ctx, t, stop, hour_s=0.02))
    try:
        north = next(f for f in await agri.scheduler.fields(p) if f.title == "North field")

        async def backfilled() -> bool:
            return bool((await agri.field_view(p, north)).get("weather_days"))

        await until(backfilled, 60)
        first = await agri.scheduler.decide(p, north.id)
        # the day before the replay starts (30 June), from a probe that starts at 70 % of TAW depleted
        assert first.day.endswith("-06-30") and first.inputs["depletion_source"]["kind"] == "probe"
        assert first.irrigate and first.command_id is not None

        async def acknowledged() -> bool:
            command = await agri.scheduler.command_of(p, first)
            return command is not None and command.status == "acknowledged"

        await until(acknowledged, 30)  # a valve answering over MQTT: slow on a loaded machine
        command = await agri.scheduler.command_of(p, first)
        assert command is not None and command.output["depth_mm"] == first.gross_irrigation

        async def scheduled() -> bool:
            return any(d.trigger == "schedule" for d in await agri.scheduler.decisions(p, north.id))

        await until(scheduled, 60)
        second = next(d for d in await agri.scheduler.decisions(p, north.id) if d.trigger == "schedule")
        assert second.day.endswith("-07-01")
        assert second.inputs["depletion_source"] == {
            "kind": "decision",
            "decision_id": first.id,
            "depletion": first.balance["depletion"],
        }
        # the valve delivered the whole gross depth during the 1st of July, and the field took it
        assert abs(second.inputs["irrigation_delivered"] - first.gross_irrigation) < 0.01
        assert second.balance["depletion"] < first.balance["depletion"]
        twin = await land.ctx.twins.state(p, "agri-valve-north")
        assert twin["reported"]["state"]["value"] == "closed"
        tractor = await land.ctx.twins.state(p, "agri-tractor-1")
        assert {"lat", "lon", "speed", "heading"} <= set(tractor["reported"])
    finally:
        stop.set()
        await asyncio.wait_for(feed, 10)
    # a restart resumes the replay at the hour after the last one stored
    rows = await land.ctx.telemetry.latest(Selection(p.org_id, ["agri-station-1"], ["observed"]))
    last = datetime.fromisoformat(str(rows[0].value))
    stop = asyncio.Event()
    feed = asyncio.create_task(demo.feed(land.ctx, t, stop, hour_s=0.02))

    async def moved_on() -> bool:
        now = await land.ctx.telemetry.latest(Selection(p.org_id, ["agri-station-1"], ["observed"]))
        return datetime.fromisoformat(str(now[0].value)) > last

    try:
        await until(moved_on, 30)
        seen = await land.ctx.telemetry.readings(
            Selection(p.org_id, ["agri-station-1"], ["observed"]), limit=10_000
        )
        stamps = [datetime.fromisoformat(str(r.value)) for r in seen]
        assert len(stamps) == len(set(stamps))  # no hour replayed twice
    finally:
        stop.set()
        await asyncio.wait_for(feed, 10)
