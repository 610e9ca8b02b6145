"""The monitoring network's services on a running platform: offers in the catalog, fulfilled automatically.

``fulfilment(ctx)`` is the domain's ``AutoFulfilment`` (one per context): it serves every order of an
offer whose outputs schema names one of the network's services (``services.MARK``), computing the
deliverable from the provider's own stations. ``start(ctx)`` / ``stop(ctx)`` follow the platform's life
(``iplus up`` calls them through ``iplus.apps.lifecycle``). ``publish_offers`` puts the two offers in the
catalog for a provider that runs the network (idempotent: an offer with the same title is kept).

``publish_stations`` keeps each air and water station in the pools as a PUBLIC virtual resource
(``air_quality_station`` / ``water_quality_station``) grounded on its device, at its place, with the latest
assessment as attributes: the daily AQI, its category and primary pollutant (air), the GB 3838 class of the
newest assessed hour (water). The hourly assessment calls it, so the attributes follow the network.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from iplus.apps.environment import services
from iplus.apps.environment.aqi_cn import category
from iplus.apps.environment.network import AIR_STATIONS, WATER_STATIONS, Site, WaterStation
from iplus.apps.environment.simulate import CST
from iplus.core.clock import as_utc
from iplus.core.errors import NotFound
from iplus.infra.db.models_catalog import Offer, OfferVersion, ServiceOrder
from iplus.infra.telemetry import Selection
from iplus.platform.catalog.auto import AutoFulfilment, PerPlatform
from iplus.platform.catalog.spec import OfferSpec
from iplus.platform.context import Context
from iplus.security.principal import Principal
from iplus.virtual.spec import AttrValue, ThingSpec, Visibility

AIR_TITLE = "Air quality report"
WATER_TITLE = "Water quality assessment"


def _qos(price: float, minutes: float, capacity: float) -> dict[str, Any]:
    return {
        "price": {"value": price, "unit": "CNY"},
        "time": {"value": minutes, "unit": "min"},
        "reliability": {"value": 0.99, "unit": "1"},
        "availability": {"value": 0.99, "unit": "1"},
        "capacity": {"value": capacity, "unit": "orders"},
    }


def _centre(sites: tuple[Any, ...]) -> tuple[float, float]:
    return (
        round(sum(s.latitude for s in sites) / len(sites), 4),
        round(sum(s.longitude for s in sites) / len(sites), 4),
    )


OFFERS = (
    OfferSpec(
        title=AIR_TITLE,
        capability_type=services.AIR_TYPE,
        qos=_qos(20, 1, 100),
        inputs=services.AIR_INPUTS,
        outputs=services.AIR_OUTPUTS,
        description="A day's air quality at a station of the monitoring network (or the nearest to a place): "
        "hourly AQI, daily AQI, index per pollutant, primary pollutant and category, by China's HJ 633 "
        "(the edition in force on the date) or the US EPA AQI. Delivered automatically from the "
        "station's hourly means.",
        latitude=_centre(AIR_STATIONS)[0],
        longitude=_centre(AIR_STATIONS)[1],
    ),
    OfferSpec(
        title=WATER_TITLE,
        capability_type=services.WATER_TYPE,
        qos=_qos(30, 1, 100),
        inputs=services.WATER_INPUTS,
        outputs=services.WATER_OUTPUTS,
        description="A day's surface-water class at a station of the monitoring network by GB 3838-2002: "
        "the class of each parameter's daily mean and the overall class against the section's target. "
        "Delivered automatically from the station's hourly means.",
        latitude=_centre(WATER_STATIONS)[0],
        longitude=_centre(WATER_STATIONS)[1],
    ),
)


def _fulfilment(ctx: Context) -> AutoFulfilment:
    async def compute(order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        return await services.compute(ctx, order, version)

    return AutoFulfilment(
        ctx.orders,
        "environment",
        (services.AIR_TYPE, services.WATER_TYPE),
        lambda version: services.service_of(version) is not None,
        compute,
    )


_services: PerPlatform[Context] = PerPlatform(_fulfilment)


def fulfilment(ctx: Context) -> AutoFulfilment:
    """The domain's auto-fulfilment of this context (made on first use)."""
    return _services.of(ctx)


async def start(ctx: Context) -> None:
    """Serve the network's orders: what waits now, new orders as they come (idempotent)."""
    await fulfilment(ctx).start()


async def stop(ctx: Context) -> None:
    """Stop serving orders and forget the context's service."""
    await _services.stop(ctx)


async def publish_offers(ctx: Context, provider: Principal) -> dict[str, str]:
    """Create and publish the network's offers the provider lacks; {title: offer id} of all of them."""
    async with ctx.db.transaction() as s:
        rows = await s.execute(
            select(OfferVersion.title, Offer.id)
            .join(Offer, Offer.id == OfferVersion.offer_id)
            .where(Offer.org_id == provider.org_id, Offer.stage != "retired")
        )
        have = dict(rows.all())
    for spec in OFFERS:
        if spec.title in have:
            continue
        offer_id = (await ctx.offers.create(provider, spec)).offer.id
        await ctx.offers.move(provider, offer_id, "published")
        have[spec.title] = offer_id
    fulfilment(ctx).wake()
    return {spec.title: have[spec.title] for spec in OFFERS}


# the stations in the pools ----------------------------------------------------------------------
AIR_THING = "air_quality_station"
WATER_THING = "water_quality_station"
STATION_KEY = "station"  # the attribute naming the station's device id: how a thing is found again


async def _latest(ctx: Context, org_id: str, device_id: str, keys: list[str]) -> dict[str, Any]:
    rows = await ctx.telemetry.latest(Selection(org_id, [device_id], keys))
    return {r.key: (r.value, as_utc(r.ts)) for r in rows if r.value is not None}


async def assessment_attributes(ctx: Context, org_id: str, site: Site) -> dict[str, AttrValue]:
    """The station's latest assessment as thing attributes (empty before the first one)."""
    out: dict[str, AttrValue] = {STATION_KEY: site.id}
    if isinstance(site, WaterStation):
        found = await _latest(ctx, org_id, site.id, ["water_class", "water_class_number"])
        if "water_class" in found and "water_class_number" in found:
            value, ts = found["water_class"]
            out.update(
                water_class=str(value),
                water_class_number=float(found["water_class_number"][0]),
                water_class_hour_end=ts.astimezone(CST).isoformat(),
                target_class=site.target_class,
            )
        return out
    found = await _latest(ctx, org_id, site.id, ["aqi_daily", "aqi_daily_primary"])
    if "aqi_daily" in found:
        value, ts = found["aqi_daily"]
        # a daily AQI is stamped at the end of its day (midnight, China Standard Time)
        day = (ts.astimezone(CST) - dt.timedelta(seconds=1)).date()
        out.update(
            aqi_daily=float(value),
            aqi_category=str(category(int(value))["category_en"]),
            aqi_primary=str(found.get("aqi_daily_primary", ("", ts))[0]) or "none",
            aqi_date=day.isoformat(),
        )
    return out


async def publish_stations(ctx: Context, caller: Principal) -> int:
    """Create or refresh the public thing of each station of the caller's network; how many changed."""
    own = {
        t.attributes.get(STATION_KEY): t
        for t in await ctx.virtual.list_own(caller, kind="resource", limit=1000)
        if t.type in (AIR_THING, WATER_THING)
    }
    changed = 0
    for site in (*AIR_STATIONS, *WATER_STATIONS):
        water = isinstance(site, WaterStation)
        attributes = await assessment_attributes(ctx, caller.org_id, site)
        found = own.get(site.id)
        if found is not None and found.attributes == attributes:
            continue
        spec = ThingSpec(
            kind="resource",
            type=WATER_THING if water else AIR_THING,
            title=site.name,
            description=(
                "Surface-water monitoring station: GB 3838-2002 class of the newest assessed hour."
                if water
                else "Ambient air monitoring station: daily AQI by HJ 633 with its category."
            ),
            visibility=Visibility.PUBLIC.value,
            attributes=attributes,
            latitude=site.latitude,
            longitude=site.longitude,
        )
        try:
            spec = await ctx.virtual.ground_on_device(caller, spec, site.id)
        except NotFound:
            continue  # the operator removed the station: nothing to publish for it
        if found is None:
            await ctx.virtual.create(caller, spec)
        else:
            await ctx.virtual.update(caller, found.id, spec)
        changed += 1
    return changed
