"""The monitoring network on a running platform: seed, replayed history, indices, permits, alarms, dashboard.

Oracles: the shipped PM file read with pandas; HJ 633-2026 Table 1 and GB 3838-2002 Table 1 as transcribed
in ``tests/apps/test_aqi_hj633.py`` and ``tests/apps/test_water_gb3838.py`` (independent of the modules);
brute-force means over the hours; published alarm semantics (raise after the hold, clear at or below).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from statistics import fmean
from typing import Any

import pandas as pd
import pytest

from iplus.api.routes import domain_environment as env_api
from iplus.apps.environment import simulate
from iplus.apps.environment.assess import assess_air
from iplus.apps.environment.dashboard import network_view, station_series
from iplus.apps.environment.demo import Feeder, seed_network
from iplus.apps.environment.models import AIR_STATION, EMISSION_MONITOR, KINDS, WATER_STATION
from iplus.apps.environment.network import AIR_STATIONS, EMITTERS, HOUR_S, SITES, WATER_STATIONS
from iplus.apps.environment.records import Row, record
from iplus.apps.environment.simulate import CST
from iplus.apps.environment.sources import acting_for
from iplus.core.errors import InvalidInput, NotFound
from iplus.engines.stream.alarms import AlarmFilter
from iplus.infra.telemetry import Selection
from tests.apps.environment.conftest import Network
from tests.apps.test_aqi_hj633 import T2026, expected_iaqi
from tests.apps.test_water_gb3838 import DO, LAKE, NAMES, UPPER, expected

pytestmark = pytest.mark.asyncio(loop_scope="module")
PM_FILE = Path(pd.__file__).parents[1] / "pvlib" / "data" / "soiling_hsu_example_inputs.csv"
# the input of each report of HJ 633-2026 -> its Table 1 column
HOURLY_2026 = {
    "so2": "so2_1h",
    "no2": "no2_1h",
    "co": "co_1h",
    "o3": "o3_1h",
    "pm10": "pm10_24h",
    "pm2_5": "pm2_5_24h",
}
DAILY_2026 = {"so2": "so2_24h", "no2": "no2_24h", "co": "co_24h", "pm10": "pm10_24h", "pm2_5": "pm2_5_24h"}


def _api_mounted(net: Network) -> None:
    """The domain router under /api/v1 (the lead includes it in the app; tests add it if not yet there)."""
    app = net.client._transport.app  # type: ignore[attr-defined]
    if not any(getattr(r, "path", "").startswith("/api/v1/environment") for r in app.routes):
        app.include_router(env_api.router, prefix="/api/v1")


def _pm(station_offset: int, hour: int) -> tuple[float, float]:
    """The file's PM2.5 and PM10 (ug/m3) for the hour starting at ``hour``, read with pandas.

    The same hour of the year on CST (29 February as the 28th), moved on by the station's offset around
    the 365-day year of the file.
    """
    frame = pd.read_csv(PM_FILE, parse_dates=["TimeStamp"])
    local = dt.datetime.fromtimestamp(hour, CST).replace(tzinfo=None)
    if (local.month, local.day) == (2, 29):
        local = local.replace(day=28)
    start = pd.Timestamp("2015-01-01")
    since = (
        pd.Timestamp(local.replace(year=2015)) - start + pd.Timedelta(days=station_offset)
    ) % pd.Timedelta(days=365)
    row = frame[frame.TimeStamp == start + since].iloc[0]
    return float(row.PM2_5) * 1e6, float(row.PM10) * 1e6


def _gb8170(value: float, mg: bool) -> Fraction:
    return Fraction(
        Decimal(repr(value)).quantize(Decimal("0.1") if mg else Decimal(1), rounding=ROUND_HALF_EVEN)
    )


def _aqi_2026(concentrations: dict[str, float], columns: dict[str, str]) -> int:
    return max(
        expected_iaqi(T2026[columns[k]], _gb8170(v, columns[k].startswith("co")))
        for k, v in concentrations.items()
    )


async def _latest(net: Network, device_id: str) -> dict[str, Any]:
    rows = await net.ctx.telemetry.latest(Selection(net.caller.org_id, [device_id]))
    return {r.key: r.value for r in rows}


async def _value_at(net: Network, device_id: str, key: str, ts: int) -> Any:
    rows = await net.ctx.telemetry.readings(
        Selection(
            net.caller.org_id,
            [device_id],
            [key],
            dt.datetime.fromtimestamp(ts, dt.UTC),
            dt.datetime.fromtimestamp(ts + 1, dt.UTC),
        )
    )
    return rows[0].value if rows else None


def _complete_hours(net: Network, count: int) -> list[int]:
    last = int(net.seeded_at) - int(net.seeded_at) % HOUR_S
    return [last - i * HOUR_S for i in range(1, count + 1)]


async def test_seed_registers_the_network_once(network: Network) -> None:
    ctx, caller = network.ctx, network.caller
    types = {t.name: t for t in await ctx.registry.list_types(caller)}
    assert set(types) == {k.name for k in KINDS}
    assert types[AIR_STATION.name].thing_model["properties"]["pm2_5"]["unit"] == "ug/m3"
    devices = {d.id: d for d in await ctx.registry.list_devices(caller, limit=100)}
    assert set(devices) == {s.id for s in SITES}
    for site in SITES:
        assert (devices[site.id].latitude, devices[site.id].longitude) == (site.latitude, site.longitude)
    state = await ctx.twins.state(caller, EMITTERS[0].id)
    assert state["desired"] == EMITTERS[0].permit.as_attributes()
    rules = {r["name"]: r for r in await ctx.rules.list_rules(caller)}
    for emitter in EMITTERS:
        rule = rules[f"env-permit-{emitter.id}-so2"]["definition"]
        assert (rule["value"], rule["for_s"], rule["severity"]) == (emitter.permit.so2, 60.0, "major")
    assert {"env-aqi-polluted", "env-aqi-heavy", "env-water-worse-than-iii"} <= set(rules)
    before = await ctx.telemetry.aggregate(
        Selection(caller.org_id), bucket_seconds=366 * 86_400, aggregates=["count"], group=True
    )
    await seed_network(ctx, caller, network.seeded_at)  # every start seeds again: nothing new
    after = await ctx.telemetry.aggregate(
        Selection(caller.org_id), bucket_seconds=366 * 86_400, aggregates=["count"], group=True
    )
    assert sum(r.values["count"] or 0 for r in after) == sum(r.values["count"] or 0 for r in before)
    assert len(await ctx.registry.list_devices(caller, limit=100)) == len(SITES)
    assert {r["name"]: r["version"] for r in await ctx.rules.list_rules(caller)} == {
        n: r["version"] for n, r in rules.items()
    }
    assert (await assess_air(ctx, caller.org_id, AIR_STATIONS[0].id, network.seeded_at)).hours == 0


async def test_history_replays_the_pm_file_hour_by_hour(network: Network) -> None:
    station = AIR_STATIONS[1]
    for hour in _complete_hours(network, 48)[::7]:
        rows = await network.ctx.telemetry.aggregate(
            Selection(
                network.caller.org_id,
                [station.id],
                ["pm2_5", "pm10"],
                dt.datetime.fromtimestamp(hour, dt.UTC),
                dt.datetime.fromtimestamp(hour + HOUR_S, dt.UTC),
            ),
            bucket_seconds=HOUR_S,
            aggregates=["avg"],
        )
        got = {r.key: r.values["avg"] for r in rows}
        pm25, pm10 = _pm(station.offset_days, hour)
        assert got == {"pm2_5": pytest.approx(pm25), "pm10": pytest.approx(pm10)}


async def test_hourly_aqi_is_hj633_of_the_hours_means(network: Network) -> None:
    station = AIR_STATIONS[0]
    checked = 0
    for hour in _complete_hours(network, 30):
        assert dt.datetime.fromtimestamp(hour, CST).date() >= dt.date(2026, 3, 1)  # HJ 633-2026 in force
        gases = simulate.air_values(station, hour + HOUR_S / 2)
        pm25, pm10 = _pm(station.offset_days, hour)
        concentrations = {k: gases[k] for k in ("so2", "no2", "co", "o3")} | {"pm2_5": pm25, "pm10": pm10}
        expected_aqi = _aqi_2026(concentrations, HOURLY_2026)
        assert await _value_at(network, station.id, "aqi", hour + HOUR_S) == expected_aqi, hour
        level = await _value_at(network, station.id, "aqi_level", hour + HOUR_S)
        assert level == 1 + sum(expected_aqi > b for b in (50, 100, 150, 200, 300))
        checked += 1
    assert checked == 30


async def test_daily_aqi_is_hj633_of_the_days_means(network: Network) -> None:
    station = AIR_STATIONS[2]
    today = dt.datetime.fromtimestamp(network.seeded_at, CST).date()
    day = today - dt.timedelta(days=1)
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=CST).timestamp())
    hours = [start + i * HOUR_S for i in range(24)]
    values = [simulate.air_values(station, h + HOUR_S / 2) for h in hours]
    pm = [_pm(station.offset_days, h) for h in hours]
    means = {k: fmean(v[k] for v in values) for k in ("so2", "no2", "co")}
    means |= {"pm2_5": fmean(p[0] for p in pm), "pm10": fmean(p[1] for p in pm)}
    o3 = [v["o3"] for v in values]
    o3_8h_max = max(fmean(o3[end - 8 : end]) for end in range(8, 25))
    expected_aqi = max(_aqi_2026(means, DAILY_2026), expected_iaqi(T2026["o3_8h"], _gb8170(o3_8h_max, False)))
    assert await _value_at(network, station.id, "aqi_daily", start + 24 * HOUR_S) == expected_aqi


async def test_water_class_is_the_worst_assessed_parameter(network: Network) -> None:
    for station in WATER_STATIONS:
        for hour in _complete_hours(network, 12)[::3]:
            v = simulate.water_values(station, hour + HOUR_S / 2)
            table = UPPER | (LAKE if station.water_body == "lake_reservoir" else {})
            keys = ["permanganate_index", "ammonia_nitrogen", "total_phosphorus"]
            if station.water_body == "lake_reservoir":
                keys.append("total_nitrogen")
            found = [expected(table[k], Decimal(repr(v[k]))) for k in keys]
            found.append(expected(DO, Decimal(repr(v["dissolved_oxygen"])), at_least=True))
            found.append("I" if 6 <= v["ph"] <= 9 else "worse than V")
            worst = max(found, key=NAMES.index)
            assert await _value_at(network, station.id, "water_class", hour + HOUR_S) == worst


async def test_a_feed_round_sends_every_device_once(network: Network) -> None:
    feeder = Feeder(network.ctx, network.caller)
    t = network.seeded_at + 1
    assert await feeder.round(t) == len(SITES)
    latest = await _latest(network, AIR_STATIONS[0].id)
    pm25, _ = _pm(AIR_STATIONS[0].offset_days, int(t) - int(t) % HOUR_S)
    assert latest["pm2_5"] == pytest.approx(pm25)  # replayed values carry no noise
    stack = await network.ctx.twins.state(network.caller, EMITTERS[1].id)
    assert stack["delta"] == {}  # the CEMS reported the limits it was given
    assert await feeder.round(t + 10) == len(SITES)
    # once the hour has ended the feed computes its indices from what was sent in it, once
    hour = int(t) - int(t) % HOUR_S
    assert await feeder.assess(t + HOUR_S) is True
    assert await feeder.assess(t + HOUR_S + 60) is False
    assert isinstance(await _value_at(network, AIR_STATIONS[0].id, "aqi", hour + HOUR_S), float)
    assert await _value_at(network, WATER_STATIONS[0].id, "water_class", hour + HOUR_S) in NAMES


async def test_a_stack_above_its_limit_for_the_hold_time_raises_a_major_alarm(network: Network) -> None:
    _api_mounted(network)
    client, ctx = network.client, network.ctx
    body = {
        "name": "Test paper mill",
        "latitude": 30.3,
        "longitude": 120.1,
        "id": "env-em-test-mill",
        "permit": {"so2_limit": 100, "nox_limit": 150, "dust_limit": 20, "limit_hold_s": 60},
    }
    made = await client.post("/api/v1/environment/sources", json=body, headers=network.auth)
    assert made.status_code == 201, made.text
    device_auth = {"Authorization": f"Bearer {made.json()['token']}"}
    t0 = int(network.seeded_at) + 5

    async def send(offset: int, so2: float) -> None:
        reading = {"so2": so2, "nox": 90.0, "dust": 8.0, "ts": t0 + offset}
        r = await client.post("/api/v1/devices/env-em-test-mill/telemetry", json=reading, headers=device_auth)
        assert r.status_code == 200, r.text
        await ctx.rules.drain()

    async def alarms() -> list[dict[str, Any]]:
        found, _ = await ctx.rules.alarms(network.caller, AlarmFilter(subject="env-em-test-mill"))
        return found

    await send(0, 140.0)
    await send(59, 150.0)
    assert await alarms() == []  # above the limit, but not yet for the hold time
    await send(60, 150.0)
    [alarm] = await alarms()
    assert (alarm["rule"], alarm["severity"], alarm["status"]) == (
        "env-permit-env-em-test-mill-so2",
        "major",
        "raised",
    )
    view = await network_view(ctx, network.caller)
    assert any(a["subject"] == "env-em-test-mill" and a["name"] == "Test paper mill" for a in view["alarms"])
    mill = next(e for e in view["emitters"] if e["id"] == "env-em-test-mill")
    so2 = next(p for p in mill["pollutants"] if p["key"] == "so2")
    assert (so2["limit"], so2["percent"], so2["exceeding"], mill["alarms"]) == (100.0, 150, True, 1)
    await send(70, 100.0)  # at the limit is within it: cleared
    [alarm] = await alarms()
    assert alarm["status"] == "cleared"


async def test_changing_a_permit_rewrites_its_rules(network: Network) -> None:
    _api_mounted(network)
    stack = EMITTERS[2]
    permit = {"so2_limit": 80, "nox_limit": 250, "dust_limit": 20, "limit_hold_s": 120}
    r = await network.client.put(
        f"/api/v1/environment/sources/{stack.id}/permit", json=permit, headers=network.auth
    )
    assert r.status_code == 200, r.text
    rules = {x["name"]: x for x in await network.ctx.rules.list_rules(network.caller)}
    nox = rules[f"env-permit-{stack.id}-nox"]
    assert (nox["definition"]["value"], nox["definition"]["for_s"], nox["version"]) == (250, 120, 2)
    assert (await network.ctx.twins.state(network.caller, stack.id))["desired"]["nox_limit"] == 250
    station = AIR_STATIONS[0].id
    r = await network.client.put(
        f"/api/v1/environment/sources/{station}/permit", json=permit, headers=network.auth
    )
    assert r.status_code == 422 and "not an emission monitor" in r.text


async def test_an_hourly_aqi_above_100_raises_the_category_alarm(network: Network) -> None:
    ctx, caller = network.ctx, network.caller
    types = {t.name: t for t in await ctx.registry.list_types(caller)}
    from iplus.access.registry import DeviceSpec

    await ctx.registry.create_devices(
        caller, [DeviceSpec(types[AIR_STATION.name].id, "Test station", "env-aq-test")]
    )
    t = int(network.seeded_at)
    # a device's first reading makes the rule engine learn its type; type-scoped rules judge the next ones
    await record(ctx, [Row("env-aq-test", t, {"pm2_5": 20.0})])
    await ctx.rules.drain()
    await record(ctx, [Row("env-aq-test", t + 1, {"aqi": 130, "aqi_level": 3, "aqi_primary": "PM10"})])
    await ctx.rules.drain()
    found, _ = await ctx.rules.alarms(caller, AlarmFilter(subject="env-aq-test", status="active"))
    assert [(a["rule"], a["severity"]) for a in found] == [("env-aqi-polluted", "minor")]
    await record(ctx, [Row("env-aq-test", t + 2, {"aqi": 240, "aqi_level": 5, "aqi_primary": "PM2.5"})])
    await ctx.rules.drain()
    found, _ = await ctx.rules.alarms(caller, AlarmFilter(subject="env-aq-test", status="active"))
    assert sorted(a["rule"] for a in found) == ["env-aqi-heavy", "env-aqi-polluted"]
    await record(ctx, [Row("env-aq-test", t + 3, {"aqi": 60, "aqi_level": 2, "aqi_primary": "PM10"})])
    await ctx.rules.drain()
    found, _ = await ctx.rules.alarms(caller, AlarmFilter(subject="env-aq-test", status="active"))
    assert found == []
    with pytest.raises(InvalidInput):  # the platform's own values are checked against the thing model too
        await record(ctx, [Row("env-aq-test", t + 4, {"aqi": 900})])


async def test_the_dashboard_view_and_series(network: Network) -> None:
    view = await network_view(network.ctx, network.caller)
    air = {s["id"]: s for s in view["air"]}
    for station in AIR_STATIONS:
        s = air[station.id]
        assert isinstance(s["aqi"], int) and s["colour"] in {
            "green",
            "yellow",
            "orange",
            "red",
            "purple",
            "maroon",
        }
        assert 0 <= s["x"] <= 100 and 0 <= s["y"] <= 100
    north = max(AIR_STATIONS, key=lambda s: s.latitude)
    placed = [a["y"] for a in view["air"] + view["water"] + view["emitters"] if a["y"] is not None]
    assert air[north.id]["y"] == min(placed)  # north is up on the map grid
    water = {s["id"]: s for s in view["water"]}
    assert all(water[w.id]["class"] in {"I", "II", "III", "IV", "V", "worse than V"} for w in WATER_STATIONS)
    series = await station_series(network.ctx, network.caller, AIR_STATIONS[0].id)
    hour = _complete_hours(network, 5)[-1]
    i = series["t"].index(hour + HOUR_S)
    assert series["pm2_5"][i] == pytest.approx(_pm(AIR_STATIONS[0].offset_days, hour)[0], abs=0.05)
    assert series["aqi"][i] == await _value_at(network, AIR_STATIONS[0].id, "aqi", hour + HOUR_S)
    with pytest.raises(NotFound):
        await station_series(network.ctx, network.caller, WATER_STATIONS[0].id)


async def test_another_organisation_sees_none_of_it(network: Network) -> None:
    other = await network.ctx.accounts.create_organisation("Elsewhere", ["user"])
    stranger = acting_for(other.id)
    view = await network_view(network.ctx, stranger)
    assert (view["air"], view["water"], view["emitters"], view["alarms"]) == ([], [], [], [])
    with pytest.raises(NotFound):
        await station_series(network.ctx, stranger, AIR_STATIONS[0].id)
    assert {k.name for k in KINDS} >= {EMISSION_MONITOR.name, WATER_STATION.name}
    assert math.isfinite(network.seeded_at)
