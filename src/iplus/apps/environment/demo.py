"""The environment domain in the demo region: a monitoring network seeded once, then kept live.

``seed`` (idempotent, every start) registers the three device types, the network's stations and stacks
with their places, each stack's permit as shared attributes, the exceedance, AQI-category and water-class
rules, fills the last week's hours that have no readings from the same models the feed uses, and computes
the missing hourly and daily indices. ``feed`` sends one message per device every ``FEED_INTERVAL_S``
through the ingest writer and recomputes the indices once an hour has ended. ``seed`` also publishes the
network's two services (air quality report, water quality assessment) and, once, orders one of each for
yesterday as the demo user, so the user's orders page shows them completed with their deliverables.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from iplus.access.registry import DeviceSpec
from iplus.apps.demo import DemoTenants
from iplus.apps.environment import service, simulate
from iplus.apps.environment.assess import LOOK_BACK_DAYS, assess_air, assess_water
from iplus.apps.environment.network import (
    AIR_STATIONS,
    DAY_S,
    EMITTERS,
    HOUR_S,
    SITES,
    WATER_STATIONS,
    AirStation,
    Emitter,
    Site,
    WaterStation,
)
from iplus.apps.environment.records import Row, record
from iplus.apps.environment.rules import AQI_RULES, WATER_RULES, permit_rules
from iplus.apps.environment.sources import acting_for, ensure_types, permit_of, set_permit
from iplus.core.errors import NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.telemetry import Selection, Value
from iplus.platform.catalog.spec import Window
from iplus.platform.context import Context
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
FEED_INTERVAL_S = 10.0
PERMIT_REFRESH_S = 60.0
NOISE = 0.02  # relative standard deviation of the live readings' measurement noise
# the replayed particulates and the water temperature are the series' own values: no noise on them
EXACT = frozenset({"pm2_5", "pm10", "water_temperature"})
# the key whose presence in an hour means the device reported in it
PRESENCE = {
    "env-air-quality-station": "pm2_5",
    "env-water-quality-station": "ph",
    "env-emission-monitor": "so2",
}


def model_values(
    site: Site, t: float, limits: dict[str, float], exceeding: str | None = None
) -> dict[str, float]:
    """The site's model values at epoch second ``t`` (no measurement noise)."""
    if isinstance(site, AirStation):
        return simulate.air_values(site, t)
    if isinstance(site, WaterStation):
        return simulate.water_values(site, t)
    assert isinstance(site, Emitter)
    return simulate.emitter_values(site, limits, t, exceeding)


async def _devices(ctx: Context, caller: Principal) -> None:
    types = await ensure_types(ctx, caller)
    missing = []
    for site in SITES:
        try:
            await ctx.registry.get_device(caller, site.id)
        except NotFound:
            missing.append(
                DeviceSpec(
                    type_ref=types[site.kind.name].id,
                    name=site.name,
                    id=site.id,
                    tags=site.tags,
                    latitude=site.latitude,
                    longitude=site.longitude,
                )
            )
    if missing:
        await ctx.registry.create_devices(caller, missing)


async def _rules(ctx: Context, caller: Principal) -> None:
    rules = [*AQI_RULES, *WATER_RULES]
    for emitter in EMITTERS:
        permit = await permit_of(ctx, caller, emitter.id)
        if not permit:
            device = await ctx.registry.get_device(caller, emitter.id)
            await set_permit(ctx, caller, device, emitter.permit)
            continue
        rules += permit_rules(emitter.id, emitter.name, permit)
    await ctx.rules.apply(caller, json.dumps({"rules": rules}), "application/json")


async def _reported_hours(ctx: Context, org_id: str, site: Site, start: int, end: int) -> set[int]:
    rows = await ctx.telemetry.aggregate(
        Selection(
            org_id,
            [site.id],
            [PRESENCE[site.kind.name]],
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
        ),
        bucket_seconds=HOUR_S,
        aggregates=["count"],
    )
    return {int(r.bucket.timestamp()) for r in rows}


async def backfill(ctx: Context, caller: Principal, now: float, days: int = LOOK_BACK_DAYS) -> int:
    """Give each site one reading (its model value at mid-hour) in every past hour lacking one."""
    last_hour = int(now) - int(now) % HOUR_S
    first_hour = last_hour - days * DAY_S
    rows: list[Row] = []
    for site in SITES:
        limits = await permit_of(ctx, caller, site.id) if isinstance(site, Emitter) else {}
        have = await _reported_hours(ctx, caller.org_id, site, first_hour, last_hour)
        for hour in range(first_hour, last_hour, HOUR_S):
            if hour not in have:
                t = hour + HOUR_S // 2
                rows.append(Row(site.id, t, model_values(site, t, limits), f"history-{hour}"))
    return await record(ctx, rows)


async def assess_all(ctx: Context, org_id: str, now: float) -> None:
    """Compute the missing indices of every station of the network; refresh the stations in the pools."""
    for station in AIR_STATIONS:
        await assess_air(ctx, org_id, station.id, now)
    for water in WATER_STATIONS:
        await assess_water(ctx, org_id, water.id, water.water_body, water.target_class, now)
    await service.publish_stations(ctx, acting_for(org_id))


async def seed_network(ctx: Context, caller: Principal, now: float) -> None:
    """Create the monitoring network in the caller's organisation where it is missing; fill its history."""
    await _devices(ctx, caller)
    await _rules(ctx, caller)
    await backfill(ctx, caller, now)
    await assess_all(ctx, caller.org_id, now)


def demo_orders(now: float) -> dict[str, dict[str, str]]:
    """The demo user's orders by offer title: yesterday's report of the first air and water station."""
    yesterday = (indices_day(now) - dt.timedelta(days=1)).isoformat()
    return {
        service.AIR_TITLE: {"station": AIR_STATIONS[0].id, "date": yesterday, "standard": "cn"},
        service.WATER_TITLE: {"station": WATER_STATIONS[0].id, "date": yesterday},
    }


def indices_day(now: float) -> dt.date:
    """Today on China Standard Time (the network's day)."""
    return dt.datetime.fromtimestamp(now, simulate.CST).date()


async def _order_services(ctx: Context, tenants: DemoTenants, offers: dict[str, str], now: float) -> None:
    """Once: the demo user orders each of the network's services; the platform fulfils them at once."""
    user = Principal(
        org_id=tenants.user_org_id,
        roles=frozenset({Role.USER}),
        scopes=frozenset({Scope.READ, Scope.WRITE}),
    )
    async with ctx.db.transaction() as s:
        ordered = set(
            (
                await s.scalars(
                    select(ServiceOrder.offer_id).where(
                        ServiceOrder.org_id == user.org_id, ServiceOrder.offer_id.in_(list(offers.values()))
                    )
                )
            ).all()
        )
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    for title, parameters in demo_orders(now).items():
        if offers[title] not in ordered:
            window = Window(start, start + dt.timedelta(hours=1))
            await ctx.orders.place(user, offers[title], parameters, window)
    await service.fulfilment(ctx).sweep()


async def seed(ctx: Context, tenants: DemoTenants) -> None:
    """The demo region's part: the network in the provider organisation, its history, its services."""
    now = time.time()
    provider = acting_for(tenants.provider_org_id)
    await seed_network(ctx, provider, now)
    publisher = Principal(
        org_id=tenants.provider_org_id,
        roles=frozenset({Role.PROVIDER}),
        scopes=frozenset({Scope.READ, Scope.WRITE}),
    )
    offers = await service.publish_offers(ctx, publisher)
    await _order_services(ctx, tenants, offers, now)


@dataclass
class Feeder:
    """The live network: every device's reading each round, indices once an hour has ended."""

    ctx: Context
    caller: Principal
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    limits: dict[str, dict[str, float]] = field(default_factory=dict)
    sent_limits: dict[str, dict[str, float]] = field(default_factory=dict)
    limits_read_at: float = -1e18
    assessed_hour: int = -1

    async def round(self, t: float) -> int:
        """Send one reading per device at ``t``; returns how many messages were stored."""
        if t - self.limits_read_at >= PERMIT_REFRESH_S:
            for emitter in EMITTERS:
                self.limits[emitter.id] = await permit_of(self.ctx, self.caller, emitter.id)
            self.limits_read_at = t
        hot = simulate.episode([e.id for e in EMITTERS], t)
        rows = []
        for site in SITES:
            limits = self.limits.get(site.id, {})
            exceeding = hot[1] if hot is not None and hot[0] == site.id else None
            values: dict[str, Value] = dict(
                simulate.with_noise(model_values(site, t, limits, exceeding), self.rng, NOISE, EXACT)
            )
            if isinstance(site, Emitter) and limits and self.sent_limits.get(site.id) != limits:
                # the CEMS reports the limits it was given, so its twin shows them applied
                values.update(limits)
                self.sent_limits[site.id] = dict(limits)
            rows.append(Row(site.id, t, values))
        return await record(self.ctx, rows)

    async def assess(self, t: float) -> bool:
        """Compute the indices of the hours that ended since the last time; whether it ran."""
        hour = int(t) // HOUR_S
        if hour == self.assessed_hour:
            return False
        await assess_all(self.ctx, self.caller.org_id, t)
        self.assessed_hour = hour
        return True


async def feed(ctx: Context, tenants: DemoTenants, stop: asyncio.Event) -> None:
    """Keep the network live until ``stop`` is set."""
    feeder = Feeder(ctx, acting_for(tenants.provider_org_id))
    while not stop.is_set():
        t = time.time()
        try:
            await feeder.round(t)
            await feeder.assess(t)
        except Exception:  # one failed round (a store hiccup) must not end the demo
            log.exception("environment feed round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=FEED_INTERVAL_S)
