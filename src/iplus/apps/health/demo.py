"""The health domain in the demo region: a care home with residents' wearables, a CGM, visit offers.

``seed`` (idempotent) gives the demo provider, a care home, the two device types, four wearables and a
continuous glucose monitor, four residents (records sealed; the provider's administrator is their
caregiver) and two visit offers the demo user (a family) can order. The CGM's history is the real
bokeh-sampledata series, shifted so that it ends now. ``feed`` attaches NEWS2 scoring to ingest and,
until stopped, sends each wearable's vitals every few seconds (steady values well inside the NEWS2
bands, so the demo does not flap) and lets one resident deteriorate now and then (vitals worsen over a
minute, peak, and recover: NEWS2 climbs through the escalation levels and falls back to 0), and keeps
replaying the CGM series at its own pace, one reading per 5 minutes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from iplus.access.codec import decode_values
from iplus.access.registry import DeviceSpec
from iplus.apps.demo import DemoTenants
from iplus.apps.health import cgm, service
from iplus.apps.health.things import CGM_TYPE, DEVICE_TYPES, WEARABLE_TYPE
from iplus.apps.health.visits import NURSING, VISIT, VISIT_INPUTS
from iplus.core.clock import utcnow
from iplus.core.errors import IplusError
from iplus.core.roles import Role, Scope
from iplus.infra.db.models import Device
from iplus.infra.db.models_catalog import Offer, OfferVersion
from iplus.infra.telemetry import Message, Selection, to_us
from iplus.platform.catalog.spec import OfferSpec
from iplus.platform.context import Context
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
CGM_DEVICE = "care-cgm-3"
TICK_S = 5.0
SEED_PURPOSE = "demo region: admitting the care home's residents"


@dataclass(frozen=True)
class Baseline:
    """A resident's steady vital signs, each well inside its NEWS2 band."""

    heart_rate: float
    respiration_rate: float
    spo2: float
    systolic_bp: float
    temperature: float
    spo2_scale: int = 1


@dataclass(frozen=True)
class DemoResident:
    """A fictional resident of the demo care home."""

    label: str
    wearable: str
    record: dict[str, Any]
    baseline: Baseline
    cgm: str | None = None


RESIDENTS = (
    DemoResident(
        "Room 1",
        "care-wearable-1",
        {
            "name": "Margaret Lin",
            "birth_date": "1939-04-12",
            "conditions": ["hypertension", "osteoarthritis"],
        },
        Baseline(72, 16, 98, 134, 36.7),
    ),
    DemoResident(
        "Room 2",
        "care-wearable-2",
        {
            "name": "Wang Jianguo",
            "birth_date": "1942-11-03",
            "conditions": ["COPD with hypercapnic respiratory failure (SpO2 target 88-92 %)"],
        },
        Baseline(82, 17, 90, 128, 36.8, spo2_scale=2),
    ),
    DemoResident(
        "Room 3",
        "care-wearable-3",
        {"name": "Hilde Berger", "birth_date": "1945-07-21", "conditions": ["type 1 diabetes", "mild CKD"]},
        Baseline(76, 15, 97, 140, 36.6),
        cgm=CGM_DEVICE,
    ),
    DemoResident(
        "Room 4",
        "care-wearable-4",
        {"name": "Samuel Okafor", "birth_date": "1937-02-08", "conditions": ["heart failure (NYHA II)"]},
        Baseline(70, 16, 97, 126, 36.8),
    ),
)

OFFERS = (
    (
        VISIT,
        "Home visit: companionship and daily living",
        "A trained carer visits for 90 minutes: company, meals, help with daily living.",
        {"price": 35, "time": 1.5, "reliability": 0.97, "availability": 0.95, "capacity": 3},
    ),
    (
        NURSING,
        "Nursing visit: medication review and vital signs",
        "A registered nurse reviews medication and takes a full set of vital signs (NEWS2).",
        {"price": 48, "time": 1.0, "reliability": 0.98, "availability": 0.9, "capacity": 2},
    ),
)


def provider_principal(tenants: DemoTenants) -> Principal:
    """The care home acting through the demo seed (logged as ``host``)."""
    return Principal(
        org_id=tenants.provider_org_id,
        roles=frozenset({Role.PROVIDER}),
        scopes=frozenset(Scope),
        is_admin=True,
    )


def _qos(q: dict[str, float]) -> dict[str, Any]:
    return {
        "price": {"value": q["price"], "unit": "EUR"},
        "time": {"value": q["time"], "unit": "h"},
        "reliability": {"value": q["reliability"], "unit": "1"},
        "availability": {"value": q["availability"], "unit": "1"},
        "capacity": {"value": q["capacity"], "unit": "orders"},
    }


async def _seed_devices(ctx: Context, provider: Principal) -> None:
    types = {t.name for t in await ctx.registry.list_types(provider)}
    for name, model in DEVICE_TYPES:
        if name not in types:
            await ctx.registry.create_type(provider, name, model)
    wanted = [DeviceSpec(WEARABLE_TYPE, f"Wearable {r.label}", r.wearable, ("health",)) for r in RESIDENTS]
    wanted.append(DeviceSpec(CGM_TYPE, "CGM Room 3", CGM_DEVICE, ("health",)))
    async with ctx.db.transaction() as s:
        have = set((await s.scalars(select(Device.id).where(Device.id.in_([w.id for w in wanted])))).all())
    missing = [w for w in wanted if w.id not in have]
    if missing:
        await ctx.registry.create_devices(provider, missing)


async def _seed_residents(ctx: Context, provider: Principal) -> None:
    records = service.care(ctx).records
    existing = {r["label"]: r for r in await records.residents(provider)}
    admins = [m for m in await ctx.accounts.list_members(provider.org_id) if m.membership.is_admin]
    for r in RESIDENTS:
        made = existing.get(r.label)
        if made is None:
            doc = {"label": r.label, "wearable_id": r.wearable, "cgm_id": r.cgm, **r.record}
            made = await records.create(provider, doc, SEED_PURPOSE)
        carers = {c["user_id"] for c in made.get("caregivers", [])}
        for admin in admins:
            if admin.user.id not in carers:
                with contextlib.suppress(IplusError):
                    await records.assign(provider, made["id"], admin.user.id)


async def _seed_offers(ctx: Context, provider: Principal) -> None:
    async with ctx.db.transaction() as s:
        titles = set(
            (
                await s.scalars(
                    select(OfferVersion.title)
                    .join(Offer, Offer.id == OfferVersion.offer_id)
                    .where(Offer.org_id == provider.org_id)
                )
            ).all()
        )
    for capability, title, description, q in OFFERS:
        if title in titles:
            continue
        spec = OfferSpec(
            title=title,
            capability_type=capability,
            qos=_qos(q),
            inputs=VISIT_INPUTS,
            description=description,
        )
        offer_id = (await ctx.offers.create(provider, spec)).offer.id
        await ctx.offers.move(provider, offer_id, "published")


async def ingest(ctx: Context, device_id: str, values: dict[str, Any], ts: datetime, msg_id: str) -> None:
    """Hand one simulated message to ingest, checked against the device's thing model like any device's."""
    identity = await ctx.registry.identity(device_id)
    if identity is None:
        return
    decoded = decode_values(values, identity.properties, ts.isoformat(), msg_id, to_us(utcnow()))
    if decoded.reasons:
        raise ValueError(f"simulated reading of {device_id} refused: {decoded.reasons}")
    await ctx.ingestor.write(
        [Message(identity.org_id, identity.type_id, device_id, decoded.msg_id, decoded.readings)]
    )


# CGM replay -------------------------------------------------------------------------------
@dataclass
class CgmReplay:
    """The real CGM series repeated end to end, shifted by ``offset`` onto the platform's time."""

    series: Sequence[tuple[datetime, float]]
    offset: timedelta
    position: int = 0  # the next reading to send, counted over the repetitions

    @property
    def cycle(self) -> timedelta:
        """How long one pass through the series lasts (plus one sampling step)."""
        return self.series[-1][0] - self.series[0][0] + timedelta(minutes=cgm.SLOT_MINUTES)

    def at(self, position: int) -> tuple[datetime, float]:
        """Platform time and glucose of a reading."""
        n = len(self.series)
        when, value = self.series[position % n]
        return when + self.offset + (position // n) * self.cycle, value

    def resume_after(self, last: datetime) -> None:
        """Continue with the first reading after ``last`` (a restart)."""
        n = len(self.series)
        c = max(0, math.floor((last - self.offset - self.series[0][0]) / self.cycle))
        times = [t for t, _ in self.series]
        i = bisect.bisect_right(times, last - self.offset - c * self.cycle)
        self.position = c * n + i


async def _seed_cgm_history(ctx: Context, provider: Principal) -> None:
    sel = Selection(provider.org_id, [CGM_DEVICE], ["glucose"])
    if await ctx.telemetry.readings(sel, limit=1):
        return
    series = cgm.sample_series()
    replay = CgmReplay(series, utcnow() - series[-1][0])
    identity = await ctx.registry.identity(CGM_DEVICE)
    assert identity is not None
    batch: list[Message] = []
    for i, (ts, value) in enumerate(series):
        when = ts + replay.offset
        batch.append(
            Message(
                provider.org_id, identity.type_id, CGM_DEVICE, f"cgm-{i}", [("glucose", to_us(when), value)]
            )
        )
        if len(batch) == 5000:
            await ctx.ingestor.write(batch)
            batch = []
    if batch:
        await ctx.ingestor.write(batch)


async def seed(ctx: Context, tenants: DemoTenants) -> None:
    """Create what is missing of the care home: device types, devices, residents, offers, CGM history."""
    provider = provider_principal(tenants)
    await _seed_devices(ctx, provider)
    await _seed_residents(ctx, provider)
    await _seed_offers(ctx, provider)
    await _seed_cgm_history(ctx, provider)


async def _replay_due(ctx: Context, replay: CgmReplay, now: datetime) -> None:
    """Send the CGM readings that are due (after a stop, all those missed, in one append)."""
    identity = await ctx.registry.identity(CGM_DEVICE)
    if identity is None:
        return
    due: list[Message] = []
    while len(due) < 20_000:
        when, value = replay.at(replay.position)
        if when > now:
            break
        due.append(Message(identity.org_id, identity.type_id, CGM_DEVICE, f"cgm-{replay.position}", []))
        due[-1].readings.append(("glucose", to_us(when), value))
        replay.position += 1
    if due:
        await ctx.ingestor.write(due)


async def _cgm_replay(ctx: Context, org_id: str) -> CgmReplay | None:
    sel = Selection(org_id, [CGM_DEVICE], ["glucose"])
    first = await ctx.telemetry.readings(sel, limit=1)
    latest = await ctx.telemetry.latest(sel)
    if not first or not latest:
        return None
    series = cgm.sample_series()
    replay = CgmReplay(series, first[0].ts - series[0][0])
    replay.resume_after(latest[0].ts)
    return replay


# wearables ------------------------------------------------------------------------------
@dataclass
class Episode:
    """A deterioration: vitals worsen over ``ramp`` seconds, hold, and recover over ``ramp`` seconds."""

    wearable: str
    start: float
    severity: float  # 0.5 reaches about NEWS2 5 (medium), 1.0 about 9 (high)
    ramp: float = 60.0
    hold: float = 30.0

    def level(self, t: float) -> float:
        """How far the vitals have moved towards the peak, 0 to 1."""
        x = t - self.start
        if x < 0 or x > 2 * self.ramp + self.hold:
            return 0.0
        if x < self.ramp:
            return x / self.ramp
        if x < self.ramp + self.hold:
            return 1.0
        return 1.0 - (x - self.ramp - self.hold) / self.ramp

    def over(self, t: float) -> bool:
        """Whether the resident has recovered."""
        return t - self.start > 2 * self.ramp + self.hold


@dataclass
class Ward:
    """The simulated residents' vital signs over time."""

    rng: random.Random
    episode: Episode | None = None
    next_episode: float = 90.0
    battery: dict[str, float] = field(default_factory=dict)

    def vitals(self, r: DemoResident, t: float) -> dict[str, Any]:
        """One full set of observations of a resident at ``t`` seconds into the feed."""
        b, g = r.baseline, self.rng.gauss
        k = (
            self.episode.level(t) * self.episode.severity
            if self.episode and self.episode.wearable == r.wearable
            else 0
        )
        # a septic-looking deterioration: faster pulse and breathing, lower saturation and pressure, fever
        values: dict[str, Any] = {
            "heart_rate": round(b.heart_rate + 55 * k + g(0, 2)),
            "respiration_rate": round(b.respiration_rate + 11 * k + g(0, 0.4)),
            "spo2": min(100, round(b.spo2 - 7 * k + g(0, 0.3))),
            "systolic_bp": round(b.systolic_bp - 45 * k + g(0, 3)),
            "temperature": round(b.temperature + 2.2 * k + g(0, 0.05), 1),
            "consciousness": "new_confusion" if k > 0.85 else "alert",
            "on_oxygen": False,
            "spo2_scale": b.spo2_scale,
        }
        level = self.battery.get(r.wearable, 100.0) - 0.01
        self.battery[r.wearable] = level if level > 15 else 100.0
        values["battery"] = round(self.battery[r.wearable], 2)
        return values

    def step(self, t: float) -> None:
        """Start or end a deterioration now and then (every 3 to 6 minutes one resident)."""
        if self.episode is not None and self.episode.over(t):
            self.episode = None
            self.next_episode = t + self.rng.uniform(180, 360)
        if self.episode is None and t >= self.next_episode:
            who = self.rng.choice(RESIDENTS)
            self.episode = Episode(who.wearable, t, self.rng.choice((0.55, 0.8, 1.0)))


async def feed(ctx: Context, tenants: DemoTenants, stop: asyncio.Event) -> None:
    """Score NEWS2 on ingest; send vitals every few seconds, deteriorations now and then, and the CGM."""
    await service.start(ctx)
    replay = await _cgm_replay(ctx, tenants.provider_org_id)
    ward = Ward(random.Random(7))  # noqa: S311 - a simulation, not secrets
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        while not stop.is_set():
            t = loop.time() - began
            ward.step(t)
            now = utcnow()
            for r in RESIDENTS:
                try:
                    await ingest(ctx, r.wearable, ward.vitals(r, t), now, f"{r.wearable}-{to_us(now)}")
                except (IplusError, ValueError):
                    log.exception("could not send the vitals of %s", r.wearable)
            if replay is not None:
                await _replay_due(ctx, replay, now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK_S)
    finally:
        await service.stop(ctx)
