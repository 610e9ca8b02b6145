"""The irrigation advisory in the catalog, fulfilled by the platform, checked against FAO-56 by hand.

Oracles: FAO-56 Example 18 (Brussels, 6 July: ET0 3.9 mm/day) stored as a station's 24 hours; a daily
Penman-Monteith (FAO-56 chapter 3, Eqs. 6-47) written here and fed with the hours read back from the store;
chapter 8's TAW, p, RAW, Ks (Eqs. 82-85, Table 22) by hand; the crop and soil rows transcribed here from
FAO-56 Tables 11, 12, 19 and 22; the next week by a brute-force day loop over the TMY3 file's own hours.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from iplus.access.registry import DeviceSpec
from iplus.apps.agriculture import demo, service
from iplus.apps.agriculture.advisory_inputs import parse_request
from iplus.apps.agriculture.models import WEATHER_STATION
from iplus.apps.agriculture.service import agriculture
from iplus.apps.agriculture.weather import typical_year
from iplus.apps.demo import DemoTenants
from iplus.core.errors import InvalidInput
from iplus.core.roles import Role, Scope
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.telemetry import Selection
from iplus.platform.catalog.finder import OfferQuery
from iplus.platform.catalog.spec import Window
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.apps.agriculture.conftest import (
    BRUSSELS,
    DAY_0,
    Farmland,
    device_types,
    example_18_hours,
    started,
    station_day,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# FAO-56 Table 19, silt loam: θFC 0.22-0.36, θWP 0.09-0.21 (the middle of each range)
SILT_LOAM = ((0.22 + 0.36) / 2, (0.09 + 0.21) / 2)
# FAO-56 Table 12 maize (field, grain): Kc 0.30 / 1.20 / 0.35; Table 11 (April, Spain, California):
# 30 / 40 / 50 / 30 days; Table 22: p = 0.55
MAIZE_KC = (0.30, 1.20, 0.35)
MAIZE_STAGES = (30, 40, 50, 30)
MAIZE_P = 0.55
ORDER = {"crop": "maize", "season_day": 95, "soil": "silt_loam", "root_depth": 0.6, "area_ha": 6.0}


def _p(org_id: str, role: Role) -> Principal:
    return Principal(org_id=org_id, roles=frozenset({role}), scopes=frozenset({Scope.READ, Scope.WRITE}))


@dataclass
class Market:
    """A started platform with a farm that has one day of station weather, its offer, and a user."""

    ctx: Context
    provider: Principal
    user: Principal
    offer_id: str
    farm_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def market(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Market]:
    ctx = await started(tmp_path_factory.mktemp("advisory"))
    try:
        org = await ctx.accounts.create_organisation("Farm Co", ["provider"])
        buyer = await ctx.accounts.create_organisation("Grower", ["user"])
        provider = _p(org.id, Role.PROVIDER)
        land = Farmland(ctx, provider, agriculture(ctx))
        await device_types(land)
        await ctx.registry.create_devices(provider, [DeviceSpec(WEATHER_STATION, "Station", "station-1")])
        farm = await land.agri.create_farm(
            provider,
            title="Brussels farm",
            latitude=BRUSSELS[0],
            longitude=BRUSSELS[1],
            altitude=BRUSSELS[2],
            station_id="station-1",
        )
        # Example 18's day, stored two days ago: the station's last complete day
        await station_day(land, DAY_0, example_18_hours(), datetime.now(UTC) - timedelta(days=2))
        offer_id = await service.publish_advisory(ctx, provider, farm.id)
        assert await service.publish_advisory(ctx, provider, farm.id) == offer_id  # idempotent
        await service.fulfilment(ctx).start()
        yield Market(ctx, provider, _p(buyer.id, Role.USER), offer_id, farm.id)
    finally:
        await service.stop(ctx)
        await ctx.stop()


async def _order(m: Market, parameters: dict[str, Any]) -> ServiceOrder:
    now = datetime.now(UTC)
    order = await m.ctx.orders.place(m.user, m.offer_id, parameters, Window(now, now + timedelta(hours=1)))
    for _ in range(200):
        order = await m.ctx.orders.get(m.user, order.id)
        if order.status in ("completed", "failed"):
            return order
        await asyncio.sleep(0.05)
    return order


async def _deliverable(m: Market, parameters: dict[str, Any]) -> dict[str, Any]:
    order = await _order(m, parameters)
    assert order.status == "completed", order.reason
    return (await m.ctx.orders.deliverables.get(m.user, order.id)).content


# an independent FAO-56 daily Penman-Monteith --------------------------------------------------
def _e0(t: float) -> float:
    return 0.6108 * math.exp(17.27 * t / (t + 237.3))  # Eq. 11


def penman_monteith(
    *,
    lat: float,
    z: float,
    j: int,
    tmax: float,
    tmin: float,
    rhmax: float,
    rhmin: float,
    uz: float,
    zw: float,
    rs: float,
) -> float:
    """ET0 (mm/day), FAO-56 Eq. 6 with G = 0, every term from its equation."""
    t = (tmax + tmin) / 2
    gamma = 0.665e-3 * 101.3 * ((293 - 0.0065 * z) / 293) ** 5.26  # Eqs. 7-8
    delta = 4098 * _e0(t) / (t + 237.3) ** 2  # Eq. 13
    es = (_e0(tmax) + _e0(tmin)) / 2  # Eq. 12
    ea = (_e0(tmin) * rhmax / 100 + _e0(tmax) * rhmin / 100) / 2  # Eq. 17
    u2 = uz * 4.87 / math.log(67.8 * zw - 5.42)  # Eq. 47
    phi = math.radians(lat)
    dr = 1 + 0.033 * math.cos(2 * math.pi * j / 365)  # Eq. 23
    dec = 0.409 * math.sin(2 * math.pi * j / 365 - 1.39)  # Eq. 24
    ws = math.acos(-math.tan(phi) * math.tan(dec))  # Eq. 25
    ra = (
        24
        * 60
        / math.pi
        * 0.0820
        * dr
        * (  # Eq. 21
            ws * math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.sin(ws)
        )
    )
    rso = (0.75 + 2e-5 * z) * ra  # Eq. 37
    rnl = (  # Eq. 39
        4.903e-9
        * ((tmax + 273.16) ** 4 + (tmin + 273.16) ** 4)
        / 2
        * (0.34 - 0.14 * math.sqrt(ea))
        * (1.35 * min(1.0, rs / rso) - 0.35)
    )
    rn = (1 - 0.23) * rs - rnl  # Eqs. 38, 40
    return (0.408 * delta * rn + gamma * 900 / (t + 273) * u2 * (es - ea)) / (delta + gamma * (1 + 0.34 * u2))


def _day_pm(hours: list[dict[str, float]], lat: float, z: float, j: int) -> float:
    """ET0 of a day from its hours: extremes of T and RH, mean wind, mean irradiance times 86,400 s."""
    return penman_monteith(
        lat=lat,
        z=z,
        j=j,
        tmax=max(h["t_air"] for h in hours),
        tmin=min(h["t_air"] for h in hours),
        rhmax=max(h["rh"] for h in hours),
        rhmin=min(h["rh"] for h in hours),
        uz=sum(h["wind_speed"] for h in hours) / len(hours),
        zw=10.0,
        rs=sum(h["solar_radiation"] for h in hours) / len(hours) * 86_400 / 1e6,
    )


async def _stored_hours(m: Market) -> list[dict[str, float]]:
    """The station's hours of the day, read back from the store."""
    rows = await m.ctx.telemetry.readings(Selection(m.provider.org_id, ["station-1"]), limit=10_000)
    by_ts: dict[datetime, dict[str, Any]] = {}
    for r in rows:
        by_ts.setdefault(r.ts, {})[r.key] = r.value
    return [v for v in by_ts.values() if str(v["observed"]).startswith(DAY_0.isoformat())]


# chapter 8 by hand --------------------------------------------------------------------------
def maize_kc(day: int) -> float:
    """FAO-56 Eq. 66 over the maize rows transcribed above."""
    ini, dev, mid, _late = MAIZE_STAGES
    k_ini, k_mid, k_end = MAIZE_KC
    if day <= ini:
        return k_ini
    if day <= ini + dev:
        return k_ini + (day - ini) / dev * (k_mid - k_ini)
    if day <= ini + dev + mid:
        return k_mid
    return k_mid + (day - ini - dev - mid) / MAIZE_STAGES[3] * (k_end - k_mid)


def by_hand(dr: float, et0: float, kc: float, zr: float) -> dict[str, float]:
    taw = 1000 * (SILT_LOAM[0] - SILT_LOAM[1]) * zr
    p = min(0.8, max(0.1, MAIZE_P + 0.04 * (5 - kc * et0)))
    raw = p * taw
    ks = 1.0 if dr <= raw else (taw - dr) / ((1 - p) * taw)
    return {"taw": taw, "p": p, "raw": raw, "ks": ks, "evening": min(taw, dr + ks * kc * et0)}


async def test_the_advice_is_fao56_by_hand_from_the_stored_day(market: Market) -> None:
    doc = await _deliverable(market, {**ORDER, "method": "drip", "soil_moisture": 0.21})
    assert doc["date"] == DAY_0.isoformat() and doc["service"] == "agriculture.irrigation_advisory"
    hours = await _stored_hours(market)
    assert len(hours) == 24
    j = DAY_0.timetuple().tm_yday
    et0 = _day_pm(hours, BRUSSELS[0], BRUSSELS[2], j)
    assert doc["et0"] == pytest.approx(et0, rel=1e-9)
    assert doc["et0"] == pytest.approx(3.9, abs=0.05)  # FAO-56 Example 18's published result
    # day 95 of maize: mid-season (days 71-120), Kc mid
    assert (doc["stage"], doc["kc"]) == ("mid_season", pytest.approx(1.20))
    dr = 1000 * (SILT_LOAM[0] - 0.21) * 0.6
    want = by_hand(dr, et0, 1.20, 0.6)
    assert doc["state"]["depletion"] == pytest.approx(dr)
    for key in ("taw", "p", "raw", "ks"):
        assert doc[key] == pytest.approx(want[key], rel=1e-9), key
    assert dr > want["raw"] and doc["ks"] < 1  # stressed already
    assert doc["irrigate"] is True
    assert doc["depletion_evening"] == pytest.approx(want["evening"])
    assert doc["net_mm"] == pytest.approx(want["evening"])
    assert doc["gross_mm"] == pytest.approx(want["evening"] / 0.90)  # drip: 90 %
    assert doc["volume_m3"] == pytest.approx(want["evening"] / 0.90 * 6.0 * 10)
    figures = {f["key"]: f["value"] for f in doc["figures"]}
    assert figures["irrigate"] == "yes" and figures["gross"] == round(doc["gross_mm"], 1)


async def test_a_moist_field_is_not_irrigated_and_efficiency_can_be_given(market: Market) -> None:
    doc = await _deliverable(
        market, {**ORDER, "season_day": 50, "method": "sprinkler", "efficiency": 0.8, "depletion": 10.0}
    )
    kc = 0.30 + (50 - 30) / 40 * (1.20 - 0.30)  # development stage: Eq. 66
    assert (doc["stage"], doc["kc"]) == ("development", pytest.approx(kc))
    want = by_hand(10.0, doc["et0"], kc, 0.6)
    assert doc["ks"] == 1.0 and doc["raw"] == pytest.approx(want["raw"])
    assert doc["depletion_evening"] == pytest.approx(10.0 + kc * doc["et0"])
    assert (doc["irrigate"], doc["net_mm"], doc["gross_mm"], doc["volume_m3"]) == (False, 0.0, 0.0, 0.0)
    assert doc["efficiency"] == 0.8


async def test_the_week_ahead_against_a_day_loop_over_the_typical_year(market: Market) -> None:
    doc = await _deliverable(market, {**ORDER, "method": "surface", "soil_moisture": 0.21})
    year = typical_year()
    taw = 1000 * (SILT_LOAM[0] - SILT_LOAM[1]) * 0.6
    without = following = doc["depletion_evening"]
    following -= doc["net_mm"]
    expected = []
    for k in range(1, 8):
        when = DAY_0 + timedelta(days=k)
        rows = [r for r in year.rows if (r.month, r.day) == (when.month, when.day)]
        assert len(rows) == 24
        hours = [
            {"t_air": r.t_air, "rh": r.rh, "wind_speed": r.wind_speed, "solar_radiation": r.ghi} for r in rows
        ]
        et0 = max(0.0, _day_pm(hours, year.latitude, year.altitude, when.timetuple().tm_yday))
        rain = sum(r.rain for r in rows)
        kc = maize_kc(ORDER["season_day"] + k)  # type: ignore[operator]
        out = []
        for dr in (without, following):
            h = by_hand(dr, et0, kc, 0.6)
            out.append((min(taw, max(0.0, dr + h["ks"] * kc * et0 - rain)), h["raw"]))
        without = out[0][0]
        irrigation = out[1][0] if out[1][0] >= out[1][1] else 0.0
        following = out[1][0] - irrigation
        expected.append((when.isoformat(), et0, rain, without, following, irrigation))
    got = [
        (
            d["date"],
            d["et0"],
            d["rain"],
            d["depletion_without"],
            d["depletion_following"],
            d["irrigation_following"],
        )
        for d in doc["projection"]
    ]
    assert len(got) == 7
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0]
        assert g[1:] == pytest.approx(e[1:], rel=1e-9, abs=1e-9), g[0]
    # the chart: day 0 is this evening, then the same values rounded for drawing
    series = doc["series"][0]
    assert series["x"] == list(range(8))
    lines = {line["label"]: line["values"] for line in series["lines"]}
    assert lines["advice not followed"][1:] == [round(e[3], 2) for e in expected]
    assert lines["advice followed"][0] == round(doc["depletion_evening"] - doc["net_mm"], 2)
    assert lines["advice followed"][1:] == [round(e[4], 2) for e in expected]


async def test_bad_inputs_are_refused_when_ordered_or_fail_with_the_reason(market: Market) -> None:
    now = datetime.now(UTC)
    window = Window(now, now + timedelta(hours=1))
    base = {**ORDER, "method": "drip"}
    for parameters in (
        {**base, "soil_moisture": 0.2, "depletion": 10.0},  # both
        base,  # neither
        {**base, "crop": "mango", "depletion": 10.0},  # not in the crop table
    ):
        with pytest.raises(InvalidInput) as caught:
            await market.ctx.orders.place(market.user, market.offer_id, parameters, window)
        assert caught.value.extra.get("errors"), parameters
    # what the schema cannot know fails the order with the reason
    late = await _order(market, {**base, "season_day": 200, "depletion": 10.0})
    assert late.status == "failed" and "outside the season of maize" in (late.reason or "")
    dry = await _order(market, {**base, "soil_moisture": 0.05})
    assert dry.status == "failed" and "below the wilting point" in (dry.reason or "")
    # the compute refuses an unknown crop by itself too (an offer whose schema lets it through)
    with pytest.raises(InvalidInput) as caught:
        parse_request({**base, "crop": "mango", "depletion": 1.0, "soil_moisture": 0.2})
    errors = caught.value.extra["errors"]
    assert any("/crop" in e for e in errors) and any("exactly one" in e for e in errors)


async def test_a_day_without_weather_fails_the_order(market: Market) -> None:
    missing = (DAY_0 - timedelta(days=3)).isoformat()
    order = await _order(market, {**ORDER, "method": "drip", "depletion": 5.0, "date": missing})
    assert order.status == "failed"
    assert f"no weather for {missing}" in (order.reason or "") and "0 of its hours" in (order.reason or "")
    assert await market.ctx.orders.deliverables.find(market.user, order.id) is None


async def test_the_tables_match_fao56() -> None:
    from iplus.apps.agriculture.crops import CROPS, SOILS

    maize, soil = CROPS["maize"], SOILS["silt_loam"]
    assert (maize.kc_ini, maize.kc_mid, maize.kc_end, maize.stages, maize.p) == (
        *MAIZE_KC,
        MAIZE_STAGES,
        MAIZE_P,
    )
    assert (soil.theta_fc, soil.theta_wp) == pytest.approx(SILT_LOAM)


async def test_the_demo_publishes_once_and_orders_one_advisory_for_the_user(tmp_path: Path) -> None:
    ctx = await started(tmp_path)
    stop = asyncio.Event()
    feed: asyncio.Task[None] | None = None
    try:
        op = await ctx.accounts.create_organisation("Operator", ["operator"])
        org = await ctx.accounts.create_organisation("Demo farm", ["provider"])
        buyer = await ctx.accounts.create_organisation("Grower", ["user"])
        tenants = DemoTenants(op.id, org.id, buyer.id)
        await demo.seed(ctx, tenants)
        await demo.seed(ctx, tenants)
        found, _ = await ctx.offers.search(_p(buyer.id, Role.USER), OfferQuery(type="irrigation"))
        assert [o.version.title for o in found] == ["Irrigation advisory"]
        feed = asyncio.create_task(demo.feed(ctx, tenants, stop, hour_s=0.05))
        user = _p(buyer.id, Role.USER)

        async def delivered() -> bool:
            orders, _ = await ctx.orders.list(user, role="user")
            return bool(orders) and orders[0].status in ("completed", "failed")

        await until(delivered, 60)
        await demo.order_advisory(ctx, tenants)  # again: still the one order
        [order], _ = await ctx.orders.list(user, role="user")
        assert order.status == "completed", order.reason
        doc = (await ctx.orders.deliverables.get(user, order.id)).content
        # the day before the replay starts (30 June), from the farm's station; half of the silt loam dry
        assert doc["date"].endswith("-06-30") and doc["farm"]["station_id"] == "agri-station-1"
        assert doc["irrigate"] is True and len(doc["projection"]) == 7
    finally:
        stop.set()
        if feed is not None:
            await asyncio.wait_for(feed, 10)
        await service.stop(ctx)
        await ctx.stop()
