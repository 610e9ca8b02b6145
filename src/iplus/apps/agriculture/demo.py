"""The agriculture part of the demo region: a farm with two irrigated fields, live and deciding every day.

``seed`` (idempotent) gives the provider organisation the four device types, a weather station, a soil
probe and a valve per field, a tractor, the farm and its fields as virtual things (FAO-56 parameters as
attributes), two stream rules (dry soil, frost) and a traced batch of produce. ``feed`` replays the TMY3
typical year from 1 July at one hour every ``HOUR_S`` seconds (a day in two minutes), keeps the soil
probes on the simulated water balance, drives the tractor, answers valve commands over MQTT, and at the
end of every replayed day asks the scheduler for each field's decision - which opens the valves through
the platform when a field is due. On an empty store the day before the start (30 June) is filled in
first, so a decision can be asked for at once.

``seed`` also publishes the farm's irrigation advisory in the catalog; once the station has a complete
day, ``feed`` orders one advisory as the demo user (once), so the user's orders page shows it completed with
its deliverable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from iplus.access.codec import decode_values
from iplus.access.registry import DeviceSpec
from iplus.apps.agriculture import service
from iplus.apps.agriculture.farm_sim import (
    SimField,
    Tractor,
    daily_et0,
    day_shares,
    lawnmower,
    probe_reading,
    soil_hour,
    soil_temperature,
    station_reading,
)
from iplus.apps.agriculture.fields import FieldParams, farm_spec, field_spec
from iplus.apps.agriculture.models import IRRIGATION_VALVE, SOIL_PROBE, THING_MODELS, TRACTOR, WEATHER_STATION
from iplus.apps.agriculture.scheduling import IrrigationScheduler
from iplus.apps.agriculture.trace import StepInput, Traceability
from iplus.apps.agriculture.valve_device import serve_valve
from iplus.apps.agriculture.weather import TypicalYear, typical_year
from iplus.apps.demo import DemoTenants
from iplus.core.clock import utcnow
from iplus.core.errors import NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.db.models_virtual import VirtualThing
from iplus.infra.telemetry import Message, Selection, to_us
from iplus.platform.catalog.spec import Window
from iplus.platform.context import Context
from iplus.security.principal import Principal
from iplus.virtual.spec import ThingSpec

log = logging.getLogger(__name__)
HOUR_S = 5.0  # wall seconds per replayed hour
VALVES_READY_S = 15.0  # how long the farm waits for its valves to connect before it replays
START = (7, 1)  # replay from 1 July of the typical year: the irrigation season
FARM = "Piedmont demo farm"
# the TMY3 file's site (Greensboro NC): the farm sits where its weather was measured
SITE = (36.1, -79.95, 273.0)
STATION_ID, TRACTOR_ID = "agri-station-1", "agri-tractor-1"
M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class DemoField:
    """One demo field: title, parameters, devices, where it lies (metres north of the farm), start state."""

    title: str
    params: FieldParams
    probe_id: str
    valve_id: str
    north_m: float
    area_ha: float
    initial_fraction: float  # of TAW depleted when the replay starts


FIELDS = (
    # maize, mid-season: Kc 1.20, p 0.55 (FAO-56 Tables 12 and 22); a silt loam (Table 19); drip, 90 %
    DemoField(
        "North field",
        FieldParams(0.32, 0.14, 0.5, 0.55, 1.20, efficiency=0.9, application_rate=12.0, crop="maize"),
        "agri-probe-north",
        "agri-valve-north",
        300.0,
        6.0,
        0.7,
    ),
    # tomato, mid-season: Kc 1.15, p 0.40; a loam; drip, 90 %
    DemoField(
        "South field",
        FieldParams(0.30, 0.13, 0.6, 0.40, 1.15, efficiency=0.9, application_rate=8.0, crop="tomato"),
        "agri-probe-south",
        "agri-valve-south",
        -300.0,
        4.0,
        0.15,
    ),
)
RULES = """
- name: agri-soil-dry
  description: The root zone is close to the wilting point of the demo soils.
  kind: threshold
  where: {type: agri-soil-probe}
  key: soil_moisture
  op: "<"
  value: 0.17
  clear: 0.19
  severity: warning
- name: agri-frost
  description: Air frost at the farm's weather station.
  kind: threshold
  where: {type: agri-weather-station}
  key: t_air
  op: "<"
  value: 0.0
  clear: 1.0
  severity: minor
"""


def acting(org_id: str) -> Principal:
    """The demo's own actions: the provider organisation, reading and writing."""
    return Principal(
        org_id=org_id, roles=frozenset({Role.PROVIDER}), scopes=frozenset({Scope.READ, Scope.WRITE})
    )


def _at(north_m: float) -> tuple[float, float]:
    return SITE[0] + north_m / M_PER_DEG, SITE[1]


# seeding ---------------------------------------------------------------------------
async def seed(ctx: Context, tenants: DemoTenants) -> None:
    """Create whatever of the demo farm is missing."""
    p = acting(tenants.provider_org_id)
    have = {t.name for t in await ctx.registry.list_types(p)}
    for name, model in THING_MODELS.items():
        if name not in have:
            await ctx.registry.create_type(p, name, model, retention_days=400)
    specs = [
        DeviceSpec(WEATHER_STATION, "Farm weather station", STATION_ID, ("agriculture",), SITE[0], SITE[1]),
        DeviceSpec(TRACTOR, "Tractor 1", TRACTOR_ID, ("agriculture", "machinery"), *_at(300.0)),
    ]
    for f in FIELDS:
        where = _at(f.north_m)
        specs.append(DeviceSpec(SOIL_PROBE, f"{f.title} probe", f.probe_id, ("agriculture",), *where))
        specs.append(DeviceSpec(IRRIGATION_VALVE, f"{f.title} valve", f.valve_id, ("agriculture",), *where))
    missing = []
    for spec in specs:
        try:
            await ctx.registry.get_device(p, spec.id or "")
        except NotFound:
            missing.append(spec)
    if missing:
        await ctx.registry.create_devices(p, missing)
    farm = await _thing(ctx, p, "farm", FARM) or await ctx.virtual.create(
        p,
        farm_spec(
            title=FARM,
            latitude=SITE[0],
            longitude=SITE[1],
            altitude=SITE[2],
            station_id=STATION_ID,
            machinery=(TRACTOR_ID,),
            description="Demo farm on the site of the TMY3 weather file 723170 (Greensboro, NC).",
        ),
    )
    fields = []
    for f in FIELDS:
        thing = await _thing(ctx, p, "field", f.title) or await ctx.virtual.create(p, _field_spec(f, farm.id))
        fields.append(thing)
    await ctx.rules.apply(p, RULES, "application/yaml")
    trace = Traceability(ctx.db)
    if not await trace.batches(p, limit=1):
        await _demo_batch(trace, p, fields[0].id)
    await service.publish_advisory(ctx, p, farm.id)


# the demo user's advisory: maize in mid-season (planted in April) on a silt loam, drip-irrigated, half dry
DEMO_ADVISORY = {
    "crop": "maize",
    "season_day": 80,
    "soil": "silt_loam",
    "root_depth": 0.5,
    "area_ha": 6.0,
    "method": "drip",
    "soil_moisture": 0.22,
}


async def order_advisory(ctx: Context, tenants: DemoTenants) -> None:
    """Once: the demo user orders the farm's irrigation advisory; the platform fulfils it at once."""
    farm = await _thing(ctx, acting(tenants.provider_org_id), "farm", FARM)
    if farm is None:
        return  # the operator removed the farm: no advisory to order
    offer_id = await service.publish_advisory(ctx, acting(tenants.provider_org_id), farm.id)
    user = Principal(
        org_id=tenants.user_org_id, roles=frozenset({Role.USER}), scopes=frozenset({Scope.READ, Scope.WRITE})
    )
    async with ctx.db.transaction() as s:
        ordered = await s.scalar(
            select(ServiceOrder.id)
            .where(ServiceOrder.org_id == user.org_id, ServiceOrder.offer_id == offer_id)
            .limit(1)
        )
    if ordered is None:
        now = utcnow()
        await ctx.orders.place(user, offer_id, DEMO_ADVISORY, Window(now, now + timedelta(hours=1)))
    await service.fulfilment(ctx).sweep()


def _field_spec(f: DemoField, farm_id: str) -> ThingSpec:
    lat, lon = _at(f.north_m)
    return field_spec(
        title=f.title,
        farm_id=farm_id,
        params=f.params,
        latitude=lat,
        longitude=lon,
        probe_id=f.probe_id,
        valve_id=f.valve_id,
        area_ha=f.area_ha,
        description=f"{f.params.crop.capitalize()} under drip irrigation.",
    )


async def _thing(ctx: Context, p: Principal, type_: str, title: str) -> VirtualThing | None:
    for thing in await ctx.virtual.list_own(p, kind="resource", limit=1000):
        if thing.type == type_ and thing.title == title:
            return thing
    return None


async def _demo_batch(trace: Traceability, p: Principal, field_id: str) -> None:
    now = utcnow().replace(microsecond=0)
    record = await trace.create_batch(
        p,
        product="Sweet corn, fresh cobs",
        quantity=1200.0,
        unit="kg",
        field_id=field_id,
        harvest=StepInput(
            "harvest",
            "Piedmont demo farm, harvest crew 2",
            "North field",
            now - timedelta(hours=30),
            {"moisture_pct": 72, "picked_by": "hand"},
        ),
    )
    batch = record.batch.id
    await trace.add_step(
        p,
        batch,
        StepInput(
            "processing",
            "Piedmont packhouse",
            "Greensboro NC",
            now - timedelta(hours=26),
            {"operation": "cooled, husked, packed", "cases": 96, "temperature_c": 2},
        ),
    )
    await trace.add_step(
        p,
        batch,
        StepInput(
            "transport",
            "Triad cold chain",
            "I-40 Greensboro to Raleigh",
            now - timedelta(hours=20),
            {"vehicle": "reefer truck NC-4711", "temperature_c": 3},
        ),
    )
    await trace.add_step(
        p,
        batch,
        StepInput(
            "shelf",
            "Raleigh fresh market",
            "Raleigh NC",
            now - timedelta(hours=16),
            {"best_before": (now + timedelta(days=5)).date().isoformat()},
        ),
    )


# feeding ---------------------------------------------------------------------------
class DemoFarm:
    """The running simulation: the replay position, each field's true state, valves and the tractor."""

    def __init__(self, ctx: Context, p: Principal, year: TypicalYear, et0s: list[float]) -> None:
        self.ctx, self.p, self.year, self.et0s = ctx, p, year, et0s
        self.fields = [
            SimField(f.title, f.params, f.probe_id, f.valve_id, f.initial_fraction * f.params.taw, 20.0)
            for f in FIELDS
        ]
        self.tractor = Tractor(TRACTOR_ID, lawnmower(_at(300.0), 300.0, 200.0, 20.0))
        self.index = year.index_of(*START)
        self.first_year = utcnow().year

    async def write(self, items: list[tuple[str, dict[str, Any]]], ts: datetime | None = None) -> None:
        """Validate each device's values against its thing model and store them in one append."""
        at = to_us(ts or utcnow())
        messages = []
        for device_id, values in items:
            try:
                identity = await self.ctx.registry.owned(self.p.org_id, device_id)
            except NotFound:
                continue  # removed by the operator: the rest of the farm goes on
            decoded = decode_values(values, identity.properties, None, None, at)
            if decoded.reasons:
                log.warning("demo reading of %s refused: %s", device_id, decoded.reasons)
                continue
            messages.append(Message(self.p.org_id, identity.type_id, device_id, None, decoded.readings))
        await self.ctx.ingestor.write(messages)

    async def resume_or_backfill(self) -> None:
        """Continue from the stored state, or on an empty store fill in the day before the start."""
        ids = [STATION_ID, *(f.probe_id for f in self.fields)]
        latest = {
            (r.device_id, r.key): r.value
            for r in await self.ctx.telemetry.latest(Selection(self.p.org_id, ids))
        }
        observed = latest.get((STATION_ID, "observed"))
        if isinstance(observed, str):
            last = datetime.fromisoformat(observed)
            self.index = self.year.index_of(last.month, last.day, last.hour) + 1
            self.first_year = last.year
            for f in self.fields:
                theta = latest.get((f.probe_id, "soil_moisture"))
                temp = latest.get((f.probe_id, "soil_temperature"))
                if isinstance(theta, float):
                    f.depletion = f.params.depletion(theta)
                if isinstance(temp, float):
                    f.soil_temp = temp
            return
        # the day before the start, in the past 24 hours, so a decision can be asked for at once
        start = utcnow() - timedelta(hours=24)
        self.index -= 24
        first = self.year.rows[self.index % len(self.year.rows)]
        day_air = [r.t_air for r in self.year.rows[self.index : self.index + 24]]
        for f in self.fields:
            f.soil_temp = sum(day_air) / len(day_air)
        before: list[tuple[str, dict[str, Any]]] = [(f.probe_id, probe_reading(f)) for f in self.fields]
        before += [
            (f.valve_id, {"state": "closed", "delivered": 0.0, "flow_rate": f.params.application_rate})
            for f in self.fields
        ]
        await self.write(before, start - timedelta(minutes=1))
        assert first.hour == 0
        for k in range(24):
            await self.hour(start + timedelta(hours=k), tractor=False)

    async def hour(
        self, ts: datetime | None = None, *, tractor: bool = True, seconds: float = HOUR_S
    ) -> date | None:
        """Replay one hour into the platform; returns the day it completed, if it was the day's last hour."""
        i = self.index
        n = len(self.year.rows)
        row = self.year.rows[i % n]
        observed = self.year.observed(i, self.first_year)
        day_start = (i % n) - row.hour
        shares = day_shares([r.ghi for r in self.year.rows[day_start : day_start + 24]])
        et0_day = self.et0s[(i % n) // 24]
        items: list[tuple[str, dict[str, Any]]] = [(STATION_ID, station_reading(self.year, i, observed))]
        for f in self.fields:
            was_open = f.valve.is_open
            delivered = f.valve.run(1.0) if was_open else 0.0
            f.depletion = soil_hour(
                f.params, f.depletion, et0_day, shares[row.hour], row.rain, delivered * f.params.efficiency
            )
            f.soil_temp = soil_temperature(f.soil_temp, row.t_air)
            items.append((f.probe_id, probe_reading(f)))
            if was_open:
                state = "open" if f.valve.is_open else "closed"
                items.append((f.valve_id, {"state": state, "delivered": round(delivered, 3)}))
        if tractor:
            items.append((TRACTOR_ID, self.tractor.step(seconds, working=7 <= row.hour < 19)))
        await self.write(items, ts)
        self.index += 1
        return observed.date() if row.hour == 23 else None

    def valve_handler(self, f: SimField) -> Any:
        """What the field's valve does with a command: open for a depth or duration, or close."""

        async def handle(command: dict[str, Any]) -> dict[str, Any]:
            action, given = command.get("action"), command.get("input") or {}
            if action == "open":
                depth = f.valve.open(given.get("depth_mm"), given.get("duration_min"))
                await self.write(
                    [(f.valve_id, {"state": "open", "delivered": 0.0, "flow_rate": f.valve.rate})]
                )
                return {"depth_mm": depth, "duration_min": round(depth / f.valve.rate * 60, 1)}
            if action == "close":
                f.valve.close()
                await self.write([(f.valve_id, {"state": "closed", "delivered": 0.0})])
                return {"state": "closed"}
            raise ValueError(f"the valve has no action {action!r}")

        return handle


async def _decide(ctx: Context, p: Principal) -> None:
    await IrrigationScheduler(ctx).decide_due(p)


async def feed(ctx: Context, tenants: DemoTenants, stop: asyncio.Event, *, hour_s: float = HOUR_S) -> None:
    """Keep the farm live until ``stop`` is set."""
    p = acting(tenants.provider_org_id)
    year = await asyncio.to_thread(typical_year)
    et0s = await asyncio.to_thread(daily_et0, year)
    farm = DemoFarm(ctx, p, year, et0s)
    # the valves connect first: a decision taken on the backfilled day commands a valve that listens
    # (a command sent before its valve subscribed would be lost and time out)
    background: set[asyncio.Task[None]] = set()
    ready: list[asyncio.Event] = []
    for f in farm.fields:
        try:
            token = await ctx.registry.rotate_token(p, f.valve_id)
        except NotFound:
            continue  # the operator removed the valve: the field is simply not irrigated
        ready.append(asyncio.Event())
        background.add(
            asyncio.create_task(
                serve_valve(
                    lambda: ctx.broker.address, f.valve_id, token, farm.valve_handler(f), stop, ready[-1]
                ),
                name=f"demo-{f.valve_id}",
            )
        )
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), VALVES_READY_S)
    except TimeoutError:  # the farm runs on; a valve that connects later answers the later commands
        log.warning("the demo valves did not all connect within %.0f s", VALVES_READY_S)
    await farm.resume_or_backfill()
    try:
        await order_advisory(ctx, tenants)
    except Exception:  # the demo order is a showcase: the farm runs on without it
        log.exception("the demo irrigation advisory order failed")
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    try:
        while not stop.is_set():
            ended = await farm.hour(seconds=hour_s)
            if ended is not None:
                task = asyncio.create_task(_decide(ctx, p), name="demo-agri-decisions")
                background.add(task)
                task.add_done_callback(background.discard)
            next_at += hour_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
