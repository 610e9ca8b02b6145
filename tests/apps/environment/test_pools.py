"""The network's stations as public virtual resources: any organisation finds them in the pools.

Oracles: the stations' places from the network's table, the great-circle distance by haversine written here,
and the latest daily AQI / water class read back from the store as the hourly assessment recorded them, with
HJ 633's category bands (Table 2) transcribed here.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from iplus.apps.environment import service
from iplus.apps.environment.demo import assess_all
from iplus.apps.environment.network import AIR_STATIONS, WATER_STATIONS
from iplus.apps.environment.simulate import CST
from iplus.core.clock import as_utc
from iplus.core.roles import Role, Scope
from iplus.infra.telemetry import Selection
from iplus.security.principal import Principal
from iplus.virtual.pools import PoolQuery
from iplus.virtual.spec import ThingSpec
from tests.api.helpers import tenant
from tests.apps.environment.conftest import Network

pytestmark = pytest.mark.asyncio(loop_scope="module")
HANGZHOU = (30.2741, 120.1551)  # West Lake, the city centre
BANDS = ((50, "excellent"), (100, "good"), (150, "lightly polluted"), (200, "moderately polluted"))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _other(org_id: str) -> Principal:
    return Principal(org_id=org_id, roles=frozenset({Role.USER}), scopes=frozenset({Scope.READ}))


async def _latest(net: Network, device_id: str, key: str) -> tuple[object, object]:
    [row] = await net.ctx.telemetry.latest(Selection(net.caller.org_id, [device_id], [key]))
    return row.value, row.ts


async def test_another_organisation_finds_the_stations_around_hangzhou_with_their_aqi(
    network: Network,
) -> None:
    other = _other((await network.ctx.accounts.create_organisation("Citizens", ["user"])).id)
    radius = 15.0  # Xixi and Binjiang lie within it, Linping (about 21 km) outside
    page = await network.ctx.virtual.search(
        other,
        PoolQuery(kind="resource", type="air_quality_station", near=HANGZHOU, radius_km=radius, limit=100),
    )
    expected = {s.id for s in AIR_STATIONS if _km(HANGZHOU, (s.latitude, s.longitude)) <= radius}
    assert 0 < len(expected) < len(AIR_STATIONS)
    assert {i.thing.attributes["station"] for i in page.items} == expected
    for item in page.items:
        thing = item.thing
        site = next(s for s in AIR_STATIONS if s.id == thing.attributes["station"])
        assert (thing.visibility, thing.org_id) == ("public", network.caller.org_id)
        assert (thing.latitude, thing.longitude, thing.title) == (site.latitude, site.longitude, site.name)
        assert item.distance_km == pytest.approx(_km(HANGZHOU, (site.latitude, site.longitude)), abs=1e-6)
        aqi, ts = await _latest(network, site.id, "aqi_daily")
        assert thing.attributes["aqi_daily"] == aqi
        band = next((name for upper, name in BANDS if aqi <= upper), "heavily polluted or worse")  # type: ignore[operator]
        assert thing.attributes["aqi_category"] == band
        day = (as_utc(ts).astimezone(CST) - timedelta(seconds=1)).date()  # type: ignore[arg-type]
        assert thing.attributes["aqi_date"] == day.isoformat()
        # grounded on the station: the live state follows its twin, without the owner's device ids
        state = await network.ctx.virtual.state(other, thing.id)
        assert state["properties"]["pm2_5"]["value"] is not None and state["links"] == []
    # a station farther than the radius is left out; a wider circle takes every station
    wide = await network.ctx.virtual.search(
        other, PoolQuery(kind="resource", near=HANGZHOU, radius_km=200, limit=100)
    )
    stations = [i for i in wide.items if i.thing.type in ("air_quality_station", "water_quality_station")]
    assert {i.thing.attributes["station"] for i in stations} == {
        s.id for s in (*AIR_STATIONS, *WATER_STATIONS)
    }
    # text search finds a station by name, the water stations carry their class
    [binjiang] = (await network.ctx.virtual.search(other, PoolQuery(text="binjiang"))).items
    assert binjiang.thing.attributes["station"] == "env-aq-binjiang"
    for site in WATER_STATIONS:
        [hit] = (
            await network.ctx.virtual.search(other, PoolQuery(text=site.name, type="water_quality_station"))
        ).items
        value, _ = await _latest(network, site.id, "water_class")
        assert hit.thing.attributes["water_class"] == value


async def test_the_api_pools_and_private_things_stay_hidden(network: Network) -> None:
    ctx, caller = network.ctx, network.caller
    private = await ctx.virtual.create(
        caller,
        ThingSpec(
            kind="resource",
            type="air_quality_station",
            title="Private test station",
            latitude=HANGZHOU[0],
            longitude=HANGZHOU[1],
        ),
    )
    other = await tenant(ctx, network.client, "Pool Reader", ["user"])
    auth = {"Authorization": f"Bearer {other.token}"}
    response = await network.client.get(
        "/api/v1/pools/resources",
        params={"type": "air_quality_station", "near": f"{HANGZHOU[0]},{HANGZHOU[1]}", "radius_km": 100},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {i["attributes"]["station"] for i in items} == {s.id for s in AIR_STATIONS}
    assert all(isinstance(i["attributes"]["aqi_daily"], float) for i in items)
    assert private.id not in {i["id"] for i in items}
    mine = await ctx.virtual.search(caller, PoolQuery(type="air_quality_station", limit=100))
    assert private.id in {i.thing.id for i in mine.items}
    assert (await network.client.get(f"/api/v1/virtual-things/{private.id}", headers=auth)).status_code == 404
    await ctx.virtual.delete(caller, private.id)


async def test_publishing_again_changes_nothing(network: Network) -> None:
    caller = network.caller
    before = {t.id: t.attributes for t in await network.ctx.virtual.list_own(caller, limit=1000)}
    await assess_all(network.ctx, caller.org_id, network.seeded_at)
    assert await service.publish_stations(network.ctx, caller) == 0
    after = {t.id: t.attributes for t in await network.ctx.virtual.list_own(caller, limit=1000)}
    assert after == before and len(after) == len(AIR_STATIONS) + len(WATER_STATIONS)
