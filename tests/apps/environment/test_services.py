"""The network's services in the catalog, fulfilled by the platform: reports checked against hand computations.

Oracles: the station's raw readings read back from the store and averaged here by brute force; HJ 633-2026
Table 1 (``tests/apps/test_aqi_hj633.py``), GB 3838-2002 Table 1 (``tests/apps/test_water_gb3838.py``) and
the EPA's PM2.5 breakpoints (EPA-454/B-24-002 Table 6), all transcribed independently of the modules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import defaultdict
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from statistics import fmean
from typing import Any

import pytest

from iplus.apps.environment import service
from iplus.apps.environment.network import AIR_STATIONS, HOUR_S, WATER_STATIONS
from iplus.apps.environment.simulate import CST
from iplus.core.errors import InvalidInput
from iplus.core.roles import Role, Scope
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.telemetry import Selection
from iplus.platform.catalog.spec import Window
from iplus.security.principal import Principal
from tests.apps.environment.conftest import Network
from tests.apps.environment.test_network import DAILY_2026, HOURLY_2026, _aqi_2026, _gb8170
from tests.apps.test_aqi_hj633 import T2026, expected_iaqi
from tests.apps.test_water_gb3838 import DO, LAKE, NAMES, UPPER, expected

pytestmark = pytest.mark.asyncio(loop_scope="module")
GASES = ("so2", "no2", "co", "o3")


def _principal(org_id: str, role: Role) -> Principal:
    return Principal(org_id=org_id, roles=frozenset({role}), scopes=frozenset({Scope.READ, Scope.WRITE}))


async def _orgs(net: Network) -> tuple[Principal, Principal, dict[str, str]]:
    found = getattr(net, "_service_orgs", None)
    if found is None:
        user = await net.ctx.accounts.create_organisation("Citizen", ["user"])
        other = await net.ctx.accounts.create_organisation("Other", ["user"])
        offers = await service.publish_offers(net.ctx, _principal(net.caller.org_id, Role.PROVIDER))
        found = (_principal(user.id, Role.USER), _principal(other.id, Role.USER), offers)
        net._service_orgs = found  # type: ignore[attr-defined]
    return found


def _yesterday(net: Network) -> dt.date:
    return dt.datetime.fromtimestamp(net.seeded_at, CST).date() - dt.timedelta(days=1)


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=CST).timestamp())


async def _place(net: Network, user: Principal, offer_id: str, parameters: dict[str, Any]) -> str:
    now = dt.datetime.now(dt.UTC)
    return (
        await net.ctx.orders.place(user, offer_id, parameters, Window(now, now + dt.timedelta(hours=1)))
    ).id


async def _until_final(net: Network, user: Principal, order_id: str, seconds: float = 10) -> ServiceOrder:
    for _ in range(int(seconds / 0.05)):
        order = await net.ctx.orders.get(user, order_id)
        if order.status in ("completed", "failed"):
            return order
        await asyncio.sleep(0.05)
    return await net.ctx.orders.get(user, order_id)


async def _hourly_raw(
    net: Network, device_id: str, keys: list[str], start: int, end: int
) -> dict[int, dict[str, float]]:
    """Brute force: every raw reading of the hours, averaged per hour start here."""
    rows = await net.ctx.telemetry.readings(
        Selection(
            net.caller.org_id,
            [device_id],
            keys,
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
        ),
        limit=100_000,
    )
    sums: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        t = int(r.ts.timestamp())
        sums[t - t % HOUR_S][r.key].append(float(r.value))  # type: ignore[arg-type]
    return {h: {k: fmean(v) for k, v in per.items()} for h, per in sums.items()}


async def test_air_report_is_delivered_with_hj633_of_the_stored_means(network: Network) -> None:
    user, other, offers = await _orgs(network)
    auto = service.fulfilment(network.ctx)
    await auto.start()
    try:
        station, day = AIR_STATIONS[1], _yesterday(network)
        order_id = await _place(
            network, user, offers[service.AIR_TITLE], {"station": station.id, "date": day.isoformat()}
        )
        order = await _until_final(network, user, order_id)
    finally:
        await auto.stop()
    assert order.status == "completed", order.reason
    report = (await network.ctx.orders.deliverables.get(user, order_id)).content
    start = _midnight(day)
    hours = [start + i * HOUR_S for i in range(24)]
    means = await _hourly_raw(network, station.id, [*GASES, "pm2_5", "pm10"], start - 86_400, start + 86_400)
    assert all(h in means for h in hours)
    daily = {k: fmean(means[h][k] for h in hours) for k in ("so2", "no2", "co", "pm2_5", "pm10")}
    o3 = [means[h]["o3"] for h in hours]
    o3_8h_max = max(fmean(o3[end - 8 : end]) for end in range(8, 25))
    iaqi = {
        DAILY_2026[k]: expected_iaqi(T2026[DAILY_2026[k]], _gb8170(v, k == "co")) for k, v in daily.items()
    }
    iaqi["o3_8h_max"] = expected_iaqi(T2026["o3_8h"], _gb8170(o3_8h_max, False))
    aqi = max(iaqi.values())
    assert report["aqi"] == aqi and report["standard_code"] == "HJ 633-2026"
    assert {k: v["iaqi"] for k, v in report["iaqi"].items()} == iaqi
    assert report["level"] == 1 + sum(aqi > b for b in (50, 100, 150, 200, 300))
    names = {"so2_24h": "SO2", "no2_24h": "NO2", "co_24h": "CO", "pm10_24h": "PM10", "pm2_5_24h": "PM2.5"}
    names["o3_8h_max"] = "O3"
    primary = [names[k] for k, v in iaqi.items() if v == aqi] if aqi > 50 else []
    assert sorted(filter(None, report["primary_pollutants"].split(", "))) == sorted(primary)
    # the hourly series: the real-time AQI of each hour (HJ 633-2026 reads the 1-hour means)
    assert [h["t"] for h in report["hourly"]] == [h + HOUR_S for h in hours]
    for h, got in zip(hours, report["hourly"], strict=True):
        assert got["aqi"] == _aqi_2026({k: means[h][k] for k in HOURLY_2026}, HOURLY_2026), h
    assert report["series"][0]["lines"][0]["values"] == [h["aqi"] for h in report["hourly"]]
    assert {"aqi", "category", "primary"} <= {f["key"] for f in report["figures"]}
    # tenancy: the user and the provider read it, a third organisation does not
    assert (await network.ctx.orders.deliverables.find(other, order_id)) is None
    assert (await network.ctx.orders.deliverables.find(network.caller, order_id)) is not None


def _epa_pm25(c: float) -> int:
    """EPA-454/B-24-002 Table 6, PM2.5: truncate to 0.1, interpolate, round half up."""
    table = [
        (0, 50, "0.0", "9.0"),
        (51, 100, "9.1", "35.4"),
        (101, 150, "35.5", "55.4"),
        (151, 200, "55.5", "125.4"),
    ]
    t = Decimal(repr(c)).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    for i_lo, i_hi, lo, hi in table:
        if Decimal(lo) <= t <= Decimal(hi):
            exact = (
                Fraction(i_hi - i_lo) / (Fraction(hi) - Fraction(lo)) * (Fraction(t) - Fraction(lo)) + i_lo
            )
            return math.floor(exact + Fraction(1, 2))
    raise AssertionError(f"PM2.5 {c} beyond the test's table")


async def test_us_report_and_the_nearest_station(network: Network) -> None:
    user, _, offers = await _orgs(network)
    day = _yesterday(network)
    target = AIR_STATIONS[2]
    near = {"latitude": target.latitude + 0.01, "longitude": target.longitude - 0.01}
    order_id = await _place(
        network, user, offers[service.AIR_TITLE], {**near, "date": day.isoformat(), "standard": "us"}
    )
    [outcome] = await service.fulfilment(network.ctx).sweep()
    assert outcome.status == "completed", outcome.reason
    report = (await network.ctx.orders.deliverables.get(user, order_id)).content
    assert report["station"]["id"] == target.id and report["station"]["distance_km"] < 2
    start = _midnight(day)
    means = await _hourly_raw(network, target.id, ["pm2_5"], start, start + 86_400)
    pm25 = fmean(means[start + i * HOUR_S]["pm2_5"] for i in range(24))
    assert report["iaqi"]["pm2_5_24h"]["iaqi"] == _epa_pm25(pm25)
    assert report["aqi"] >= _epa_pm25(pm25) and report["standard_code"] == "EPA-454/B-24-002"


async def test_water_assessment_is_the_worst_class_of_the_daily_means(network: Network) -> None:
    user, _, offers = await _orgs(network)
    station, day = WATER_STATIONS[1], _yesterday(network)
    order_id = await _place(
        network, user, offers[service.WATER_TITLE], {"station": station.id, "date": day.isoformat()}
    )
    [outcome] = await service.fulfilment(network.ctx).sweep()
    assert outcome.status == "completed", outcome.reason
    report = (await network.ctx.orders.deliverables.get(user, order_id)).content
    start = _midnight(day)
    keys = [
        "ph",
        "dissolved_oxygen",
        "permanganate_index",
        "ammonia_nitrogen",
        "total_phosphorus",
        "total_nitrogen",
    ]
    means = await _hourly_raw(network, station.id, keys, start, start + 86_400)
    daily = {k: fmean(means[start + i * HOUR_S][k] for i in range(24)) for k in keys}
    table = UPPER | LAKE  # West Lake is a lake: its own TP limits, and TN counts
    found = {k: expected(table[k], Decimal(repr(daily[k]))) for k in keys if k in table}
    found["dissolved_oxygen"] = expected(DO, Decimal(repr(daily["dissolved_oxygen"])), at_least=True)
    found["ph"] = "I" if 6 <= daily["ph"] <= 9 else "worse than V"
    assert {k: v["class"] for k, v in report["parameters"].items()} == found
    assert report["class"] == max(found.values(), key=NAMES.index)
    assert len(report["series"][0]["x"]) == 24


async def test_a_day_without_data_or_not_over_fails_the_order(network: Network) -> None:
    user, _, offers = await _orgs(network)
    today = _yesterday(network) + dt.timedelta(days=1)
    empty = await _place(
        network, user, offers[service.AIR_TITLE], {"station": AIR_STATIONS[0].id, "date": "2026-01-05"}
    )
    early = await _place(
        network,
        user,
        offers[service.WATER_TITLE],
        {"station": WATER_STATIONS[0].id, "date": today.isoformat()},
    )
    outcomes = {o.order_id: o for o in await service.fulfilment(network.ctx).sweep()}
    assert outcomes[empty].status == "failed" and "no data" in outcomes[empty].reason
    assert outcomes[early].status == "failed" and "not ended" in outcomes[early].reason
    for order_id in (empty, early):
        order = await network.ctx.orders.get(user, order_id)
        assert order.status == "failed" and order.reason
        assert await network.ctx.orders.deliverables.find(user, order_id) is None
    assert await service.fulfilment(network.ctx).sweep() == []  # nothing is tried twice


async def test_an_order_placed_while_stopped_is_served_after_start(network: Network) -> None:
    user, _, offers = await _orgs(network)
    await service.stop(network.ctx)
    order_id = await _place(
        network,
        user,
        offers[service.WATER_TITLE],
        {"station": WATER_STATIONS[0].id, "date": _yesterday(network).isoformat()},
    )
    await asyncio.sleep(0.3)
    assert (await network.ctx.orders.get(user, order_id)).status == "requested"
    await service.start(network.ctx)  # a restart: the first sweep finds it
    try:
        order = await _until_final(network, user, order_id)
    finally:
        await service.stop(network.ctx)
    assert order.status == "completed", order.reason
    assert (await network.ctx.orders.deliverables.get(user, order_id)).content["class"]


async def test_days_out_of_range_fail_with_the_reason_and_bad_places_are_refused(network: Network) -> None:
    user, _, offers = await _orgs(network)
    air = offers[service.AIR_TITLE]
    station = AIR_STATIONS[0].id
    far = {
        day: await _place(network, user, air, {"station": station, "date": day})
        for day in ("9999-12-31", "0001-01-01", "1970-01-02", "2026-02-30")
    }
    outcomes = {o.order_id: o for o in await service.fulfilment(network.ctx).sweep()}
    reasons = {day: outcomes[order_id].reason for day, order_id in far.items()}
    assert all(outcomes[order_id].status == "failed" for order_id in far.values()), reasons
    assert "has not ended" in reasons["9999-12-31"]
    assert "before 1970-01-02" in reasons["0001-01-01"]
    assert "no data" in reasons["1970-01-02"]
    assert "not a YYYY-MM-DD date" in reasons["2026-02-30"]
    # a place off the globe, a non-finite number or a malformed date is refused when the order is placed
    for bad in (
        {"latitude": 91, "longitude": 120, "date": "2026-01-05"},
        {"latitude": 30, "longitude": -180.5, "date": "2026-01-05"},
        {"latitude": float("nan"), "longitude": 120, "date": "2026-01-05"},
        {"latitude": 30, "longitude": 1e308, "date": "2026-01-05"},
        {"station": station, "date": "5 January"},
        {"station": "env-aq-elsewhere", "date": "2026-01-05"},
        {"date": "2026-01-05"},
    ):
        with pytest.raises(InvalidInput):
            await _place(network, user, air, bad)
