"""The agriculture application's services over a running platform, shared by the API, portal and CLI.

While the platform runs (``start``/``stop``, called by ``iplus.apps.lifecycle``) it decides each field's
irrigation every hour, and serves the catalog's irrigation advisory orders through an ``AutoFulfilment``
(``advisory.advise`` computes the deliverable). ``publish_advisory`` puts the advisory offer of a farm in
the catalog for its provider (idempotent: an offer with the same title is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from iplus.apps.agriculture import advisory, advisory_inputs
from iplus.apps.agriculture.fields import FARM_TYPE, farm_spec, field_params, field_setup, field_spec
from iplus.apps.agriculture.scheduling import IrrigationScheduler, decision_dict
from iplus.apps.agriculture.station import complete_days, station_days
from iplus.apps.agriculture.trace import PublicTrace, Traceability
from iplus.core.errors import InvalidInput, IplusError
from iplus.core.roles import Role, Scope
from iplus.infra.db.models_catalog import Offer, OfferVersion, ServiceOrder
from iplus.infra.db.models_virtual import VirtualThing
from iplus.platform.catalog.auto import AutoFulfilment, PerPlatform
from iplus.platform.catalog.spec import OfferSpec
from iplus.platform.context import Context
from iplus.security.principal import Principal


@dataclass(frozen=True)
class Agriculture:
    """Irrigation scheduling and traceability of one platform."""

    ctx: Context
    scheduler: IrrigationScheduler
    trace: Traceability
    public: PublicTrace

    async def create_farm(
        self,
        caller: Principal,
        *,
        title: str,
        latitude: float,
        longitude: float,
        altitude: float,
        station_id: str | None = None,
        machinery: tuple[str, ...] = (),
    ) -> VirtualThing:
        """A farm as a virtual thing, grounded on its weather station and machines."""
        spec = farm_spec(
            title=title,
            latitude=latitude,
            longitude=longitude,
            altitude=altitude,
            station_id=station_id,
            machinery=machinery,
        )
        return await self.ctx.virtual.create(caller, spec)

    async def create_field(
        self,
        caller: Principal,
        *,
        title: str,
        farm_id: str,
        parameters: dict[str, Any],
        latitude: float | None = None,
        longitude: float | None = None,
        probe_id: str | None = None,
        valve_id: str | None = None,
        area_ha: float | None = None,
    ) -> VirtualThing:
        """A field as a virtual thing; its parameters are checked first, every problem with its path."""
        problems: list[str] = []
        try:
            params = field_params(parameters, where="")
        except InvalidInput as exc:
            problems += exc.extra.get("errors", [])
        farm = await self.ctx.virtual.get_own(caller, farm_id)
        if farm.type != FARM_TYPE:
            problems.append(f"/farm_id: {farm_id} is a {farm.type!r}, not a farm")
        if area_ha is not None and not 0 < area_ha < 1e6:
            problems.append("/area_ha: a positive area")
        if problems:
            raise InvalidInput("the field cannot be created", errors=problems)
        spec = field_spec(
            title=title,
            farm_id=farm_id,
            params=params,
            latitude=latitude,
            longitude=longitude,
            probe_id=probe_id,
            valve_id=valve_id,
            area_ha=area_ha,
        )
        return await self.ctx.virtual.create(caller, spec)

    async def field_view(self, caller: Principal, thing: VirtualThing) -> dict[str, Any]:
        """A field with its parameters, live state, water status and newest decision."""
        view: dict[str, Any] = {
            "id": thing.id,
            "title": thing.title,
            "crop": thing.attributes.get("crop"),
            "area_ha": thing.attributes.get("area_ha"),
            "farm_id": thing.attributes.get("farm"),
            "latitude": thing.latitude,
            "longitude": thing.longitude,
            "attributes": thing.attributes,
            "problems": [],
            "taw": None,
            "depletion": None,
            "state": {},
            "state_ts": {},
            "weather_days": [],
            "latest_decision": None,
        }
        try:
            setup = await field_setup(self.ctx, caller, thing.id)
        except IplusError as exc:
            view["problems"] = [exc.detail, *exc.extra.get("errors", [])]
            return view
        params = setup.params
        state = (await self.ctx.virtual.state(caller, thing.id))["properties"]
        theta = (state.get("soil_moisture") or {}).get("value")
        view.update(
            probe_id=setup.probe_id,
            valve_id=setup.valve_id,
            station_id=setup.station_id,
            machinery=list(setup.machinery),
            taw=params.taw,
            state={k: v.get("value") for k, v in state.items()},
            state_ts={k: v.get("ts") for k, v in state.items()},
            depletion=params.depletion(theta) if isinstance(theta, float) else None,
        )
        if setup.station_id is not None:
            days = await station_days(self.ctx.telemetry, caller.org_id, setup.station_id)
            view["weather_days"] = [d.isoformat() for d in complete_days(days)[-3:]]
        newest = await self.scheduler.decisions(caller, thing.id, limit=1)
        view["latest_decision"] = (
            decision_dict(newest[0], await self.scheduler.command_of(caller, newest[0])) if newest else None
        )
        return view

    async def field_views(self, caller: Principal) -> list[dict[str, Any]]:
        """Every field of the organisation, viewed."""
        return [await self.field_view(caller, t) for t in await self.scheduler.fields(caller)]


def agriculture(ctx: Context) -> Agriculture:
    """The agriculture services over ``ctx`` (cheap: they hold no state of their own)."""
    return Agriculture(ctx, IrrigationScheduler(ctx), Traceability(ctx.db), PublicTrace(ctx.db))


log = logging.getLogger(__name__)
# irrigation decisions are made once per field and day; asking every hour finds a newly completed day soon
DECIDE_EVERY_S = 3600.0
_deciders: dict[int, asyncio.Task[None]] = {}


def _acting(org_id: str) -> Principal:
    """The platform deciding for an organisation's fields: its provider role, reading and writing."""
    return Principal(
        org_id=org_id, roles=frozenset({Role.PROVIDER}), scopes=frozenset({Scope.READ, Scope.WRITE})
    )


async def decide_everywhere(ctx: Context) -> int:
    """Make each organisation's due irrigation decisions; how many were made."""
    made = 0
    for org in await ctx.accounts.all_organisations():
        try:
            made += len(await agriculture(ctx).scheduler.decide_due(_acting(org.id)))
        except Exception:  # one organisation's failure must not stop the others' decisions
            log.exception("irrigation decisions for organisation %s failed", org.id)
    return made


async def _decide_forever(ctx: Context, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await decide_everywhere(ctx)


async def start(ctx: Context) -> None:
    """Decide irrigation every hour and serve advisory orders while the platform runs (idempotent)."""
    task = _deciders.get(id(ctx))
    if task is None or task.done():
        _deciders[id(ctx)] = asyncio.create_task(_decide_forever(ctx, DECIDE_EVERY_S), name="agri-decisions")
    await fulfilment(ctx).start()


async def stop(ctx: Context) -> None:
    """Stop deciding and serving orders."""
    task = _deciders.pop(id(ctx), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await _advisories.stop(ctx)


# the irrigation advisory in the catalog ---------------------------------------------------
ADVISORY_TITLE = "Irrigation advisory"


def _fulfilment(ctx: Context) -> AutoFulfilment:
    async def compute(order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        return await advisory.advise(ctx, order, version)

    return AutoFulfilment(
        ctx.orders, "agriculture", (advisory_inputs.CAPABILITY,), advisory_inputs.serves, compute
    )


_advisories: PerPlatform[Context] = PerPlatform(_fulfilment)


def fulfilment(ctx: Context) -> AutoFulfilment:
    """The advisory's auto-fulfilment of this context (made on first use)."""
    return _advisories.of(ctx)


def advisory_offer(farm: VirtualThing) -> OfferSpec:
    """The advisory offer of a farm: reads its weather station, placed at the farm."""
    return OfferSpec(
        title=ADVISORY_TITLE,
        capability_type=advisory_inputs.CAPABILITY,
        qos={
            "price": {"value": 15, "unit": "CNY"},
            "time": {"value": 1, "unit": "min"},
            "reliability": {"value": 0.99, "unit": "1"},
            "availability": {"value": 0.99, "unit": "1"},
            "capacity": {"value": 100, "unit": "orders"},
        },
        inputs=advisory_inputs.INPUTS,
        outputs=advisory_inputs.outputs(farm.id),
        description=f"Whether to irrigate a field today and how much, by FAO-56: ET0 of the last complete "
        f"day from {farm.title}'s weather station, Kc for the crop's stage, TAW, RAW, Ks, net and gross "
        "depth and volume, and the next week's root-zone depletion under the typical year's weather with "
        "and without following the advice. Delivered automatically.",
        latitude=farm.latitude,
        longitude=farm.longitude,
    )


async def publish_advisory(ctx: Context, provider: Principal, farm_id: str) -> str:
    """Create and publish the farm's advisory offer unless the provider has one; its offer id."""
    farm = await ctx.virtual.get_own(provider, farm_id)
    if farm.type != FARM_TYPE:
        raise InvalidInput(f"virtual thing {farm_id} is a {farm.type!r}, not a farm")
    async with ctx.db.transaction() as s:
        found = await s.scalar(
            select(Offer.id)
            .join(OfferVersion, OfferVersion.offer_id == Offer.id)
            .where(
                Offer.org_id == provider.org_id,
                Offer.stage != "retired",
                OfferVersion.title == ADVISORY_TITLE,
            )
            .limit(1)
        )
    if found is None:
        found = (await ctx.offers.create(provider, advisory_offer(farm))).offer.id
        await ctx.offers.move(provider, found, "published")
    fulfilment(ctx).wake()
    return found
