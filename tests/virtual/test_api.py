"""The virtual-things and pools API: CRUD, TD, live state from the twins, taxonomy, pool search, 422s."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from iplus.platform.context import Context
from iplus.standards.wot import schema_errors
from tests.api.helpers import Tenant, assert_problem, tenant
from tests.virtual.conftest import METER_MODEL

MILL: dict[str, Any] = {
    "kind": "capability",
    "type": "milling",
    "title": "5-axis milling",
    "description": "Aluminium and steel parts",
    "visibility": "public",
    "attributes": {"max_part_size_mm": 400, "material": "aluminium", "certified": True},
    "location": {"lat": 48.137, "lon": 11.575},
    "properties": {"spindle_kw": {"type": "number", "unit": "kW"}},
    "actions": {"mill": {"input": {"type": "object", "properties": {"drawing": {"type": "string"}}}}},
    "events": {"done": {"data": {"type": "string"}}},
    "calendar": [{"starts_at": "2026-12-01T08:00:00Z", "ends_at": "2026-12-01T18:00:00Z"}],
}


@pytest.fixture
async def pair(ctx: Context, client: httpx.AsyncClient) -> tuple[Tenant, Tenant]:
    await ctx.telemetry.open()
    a = await tenant(ctx, client, "Maker A", ["provider", "user"])
    b = await tenant(ctx, client, "Buyer B", ["user"])
    r = await client.post(
        "/api/v1/device-types", headers=a.auth, json={"name": "meter", "thing_model": METER_MODEL}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/devices",
        headers=a.auth,
        json={"type": "meter", "id": "mill-7", "latitude": 48.1, "longitude": 11.5},
    )
    assert r.status_code == 201, r.text
    return a, b


async def test_crud_td_and_visibility(client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    r = await client.post("/api/v1/virtual-things", headers=a.auth, json=MILL)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["domain"] == "manufacturing" and made["calendar"][0]["starts_at"].startswith(
        "2026-12-01T08:00"
    )
    tid = made["id"]
    td = (await client.get(f"/api/v1/virtual-things/{tid}/td", headers=b.auth)).json()
    assert schema_errors(td, "td") == []
    assert td["id"] == f"urn:iplus:virtual:{tid}" and "iplus:milling" in td["@type"]
    assert td["links"] == []
    private = dict(MILL, visibility="private", title="hidden")
    hidden = (await client.post("/api/v1/virtual-things", headers=a.auth, json=private)).json()["id"]
    assert_problem(await client.get(f"/api/v1/virtual-things/{hidden}", headers=b.auth), 404)
    assert_problem(await client.get(f"/api/v1/virtual-things/{hidden}/td", headers=b.auth), 404)
    assert_problem(await client.put(f"/api/v1/virtual-things/{tid}", headers=b.auth, json=MILL), 404)
    changed = dict(MILL, title="5-axis milling, bigger", attributes={"max_part_size_mm": 800})
    r = await client.put(f"/api/v1/virtual-things/{tid}", headers=a.auth, json=changed)
    assert r.status_code == 200 and r.json()["attributes"] == {"max_part_size_mm": 800}
    mine = (await client.get("/api/v1/virtual-things", headers=a.auth)).json()
    assert {t["id"] for t in mine} == {tid, hidden}
    assert (await client.delete(f"/api/v1/virtual-things/{hidden}", headers=a.auth)).status_code == 204
    assert_problem(await client.get(f"/api/v1/virtual-things/{hidden}", headers=a.auth), 404)


async def test_thing_from_device_follows_the_twin(
    ctx: Context, client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]
) -> None:
    a, _ = pair
    body = {"kind": "resource", "type": "cnc_mill", "from_device": "mill-7", "visibility": "public"}
    r = await client.post("/api/v1/virtual-things", headers=a.auth, json=body)
    assert r.status_code == 201, r.text
    thing = r.json()
    assert thing["title"] == "mill-7" and set(thing["properties"]) == {"power", "rpm", "busy"}
    assert thing["links"] == [
        {"device_id": "mill-7", "mapping": {"power": "power", "rpm": "rpm", "busy": "busy"}}
    ]
    assert thing["location"] == {"lat": 48.1, "lon": 11.5}
    td = (await client.get(f"/api/v1/virtual-things/{thing['id']}/td", headers=a.auth)).json()
    assert schema_errors(td, "td") == []
    assert td["links"][0]["href"].endswith("/api/v1/devices/mill-7/td")
    assert "fiware:ManufacturingMachine" in td["@type"]
    state = (await client.get(f"/api/v1/virtual-things/{thing['id']}/state", headers=a.auth)).json()
    assert state["properties"] == {} and state["links"] == [{"device_id": "mill-7", "last_seen": None}]
    token = (await client.post("/api/v1/devices/mill-7/token", headers=a.auth)).json()["token"]
    r = await client.post(
        "/api/v1/devices/mill-7/telemetry",
        headers={"Authorization": f"Bearer {token}"},
        content=orjson.dumps({"ts": "2026-11-29T10:00:00Z", "power": 7.5, "busy": True}),
    )
    assert r.status_code in (200, 202), r.text
    state = (await client.get(f"/api/v1/virtual-things/{thing['id']}/state", headers=a.auth)).json()
    assert state["properties"]["power"] == {
        "value": 7.5,
        "ts": "2026-11-29T10:00:00+00:00",
        "device_id": "mill-7",
        "source": "power",
    }
    assert state["properties"]["busy"]["value"] is True and "rpm" not in state["properties"]
    # another organisation sees the public thing's values, not which devices ground it
    _, b = pair
    seen = (await client.get(f"/api/v1/virtual-things/{thing['id']}/state", headers=b.auth)).json()
    assert (
        seen["properties"]["power"] == {"value": 7.5, "ts": "2026-11-29T10:00:00+00:00"}
        and seen["links"] == []
    )
    assert (await client.get(f"/api/v1/virtual-things/{thing['id']}", headers=b.auth)).json()["links"] == []
    other_td = (await client.get(f"/api/v1/virtual-things/{thing['id']}/td", headers=b.auth)).json()
    assert other_td["links"] == [] and schema_errors(other_td, "td") == []
    # the device's action, invoked on the virtual thing, becomes a command to the grounding device
    r = await client.post(f"/api/v1/virtual-things/{thing['id']}/actions/stop", headers=a.auth, json={})
    assert r.status_code == 201, r.text
    command = r.json()
    assert command["device_id"] == "mill-7" and command["action"] == "stop"
    listed = (await client.get("/api/v1/devices/mill-7/commands", headers=a.auth)).json()
    assert [c["id"] for c in listed] == [command["id"]]
    assert_problem(
        await client.post(f"/api/v1/virtual-things/{thing['id']}/actions/fly", headers=a.auth, json={}), 404
    )
    assert_problem(
        await client.post(f"/api/v1/virtual-things/{thing['id']}/actions/stop", headers=b.auth, json={}), 403
    )
    # a second thing renames the twin's property
    second = {
        "kind": "capability",
        "type": "milling",
        "title": "milling on mill-7",
        "properties": {"load_kw": {"type": "number"}},
        "links": [{"device_id": "mill-7", "mapping": {"load_kw": "power"}}],
    }
    tid2 = (await client.post("/api/v1/virtual-things", headers=a.auth, json=second)).json()["id"]
    state2 = (await client.get(f"/api/v1/virtual-things/{tid2}/state", headers=a.auth)).json()
    assert state2["properties"]["load_kw"]["value"] == 7.5
    # an action no grounding device performs is carried out by ordering, not by a command
    third = {**second, "title": "milling job", "actions": {"mill": {}}}
    tid3 = (await client.post("/api/v1/virtual-things", headers=a.auth, json=third)).json()["id"]
    assert_problem(
        await client.post(f"/api/v1/virtual-things/{tid3}/actions/mill", headers=a.auth, json={}), 409
    )


async def test_pools_endpoint_filters_and_facets(
    client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]
) -> None:
    a, b = pair
    for i, (type_, size, lat) in enumerate(
        [("milling", 400, 48.2), ("turning", 200, 48.3), ("welding", 900, 52.5)]
    ):
        body = dict(
            MILL, type=type_, title=f"cap {i}", attributes={"max_part_size_mm": size, "material": "steel"}
        )
        body["location"] = {"lat": lat, "lon": 11.5}
        assert (await client.post("/api/v1/virtual-things", headers=a.auth, json=body)).status_code == 201
    r = await client.get(
        "/api/v1/pools/capabilities",
        headers=b.auth,
        params={
            "type": "machining",
            "attr.max_part_size_mm": "300..",
            "near": "48.2,11.5",
            "radius_km": "50",
        },
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["title"] for i in page["items"]] == ["cap 0"] and page["total"] == 1
    assert page["items"][0]["distance_km"] == 0.0
    every = (await client.get("/api/v1/pools/capabilities", headers=b.auth, params={"limit": 2})).json()
    assert every["total"] == 3 and len(every["items"]) == 2
    assert every["facets"]["type"] == {"milling": 1, "turning": 1, "welding": 1}
    assert every["facets"]["domain"] == {"manufacturing": 3}
    window = {"available_from": "2026-12-01T09:00:00+00:00", "available_to": "2026-12-01T17:00:00+00:00"}
    assert (await client.get("/api/v1/pools/capabilities", headers=b.auth, params=window)).json()[
        "total"
    ] == 3
    late = dict(window, available_to="2026-12-01T19:00:00+00:00")
    assert (await client.get("/api/v1/pools/capabilities", headers=b.auth, params=late)).json()["total"] == 0
    assert (await client.get("/api/v1/pools/resources", headers=b.auth)).json()["total"] == 0
    steel = {"attr.material": "STEEL", "q": "cap"}
    assert (await client.get("/api/v1/pools/capabilities", headers=b.auth, params=steel)).json()["total"] == 3


async def test_taxonomy_endpoint(client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    tree = (await client.get("/api/v1/taxonomy", headers=a.auth)).json()
    assert [n["id"] for n in tree] == ["resource", "capability", "product"]
    machining = (await client.get("/api/v1/taxonomy", headers=a.auth, params={"root": "machining"})).json()
    assert {c["id"] for c in machining[0]["children"]} >= {"milling", "turning"}
    assert_problem(await client.get("/api/v1/taxonomy", headers=a.auth, params={"root": "nope"}), 422)


BAD_THINGS: list[tuple[dict[str, Any], str]] = [
    ({"type": "no_such_type"}, "unknown type"),
    ({"type": "cnc_mill"}, "is a resource type"),
    ({"type": "capability"}, "not a bare kind"),
    ({"kind": "service"}, "kind"),
    ({"title": ""}, "title"),
    ({"properties": {"x": {"type": "bogus"}}}, "properties/x/type"),
    ({"attributes": {"Bad Key": 1}}, "attributes/Bad Key"),
    ({"location": {"lat": 91, "lon": 0}}, "lat"),
    ({"calendar": [{"starts_at": "2026-12-01T10:00:00", "ends_at": "2026-12-01T12:00:00"}]}, "UTC offset"),
    ({"calendar": [{"starts_at": "2026-12-01T12:00:00Z", "ends_at": "2026-12-01T10:00:00Z"}]}, "before"),
    ({"links": [{"device_id": "ghost", "mapping": {}}]}, "no such device"),
    ({"links": [{"device_id": "mill-7", "mapping": {"spindle_kw": "torque"}}]}, "no property 'torque'"),
    ({"links": [{"device_id": "mill-7", "mapping": {"nope": "power"}}]}, "not a property of the thing"),
    ({"from_device": "ghost"}, "not found"),
    ({"surprise": 1}, "surprise"),
]
BAD_QUERIES: list[dict[str, str]] = [
    {"type": "no_such"},
    {"type": "cnc_mill"},
    {"near": "48,11"},
    {"radius_km": "5"},
    {"near": "1,2,3", "radius_km": "5"},
    {"near": "95,0", "radius_km": "5"},
    {"attr.size": "9..1"},
    {"attr.size": "x..1"},
    {"available_from": "2026-12-01T10:00:00+00:00"},
    {"available_from": "2026-12-01T10:00:00+00:00", "available_to": "2026-12-01T09:00:00+00:00"},
    {"available_from": "2026-12-01T10:00:00", "available_to": "2026-12-01T11:00:00"},
    {"limit": "0"},
    {"kind": "resource"},
    {"colour": "red"},
]


async def test_bad_things_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]
) -> None:
    a, _ = pair
    for change, needle in BAD_THINGS:
        r = await client.post("/api/v1/virtual-things", headers=a.auth, json={**MILL, **change})
        status = 404 if "from_device" in change else 422
        assert needle in str(assert_problem(r, status)), (change, r.text)
    assert (await client.get("/api/v1/virtual-things", headers=a.auth)).json() == []


async def test_bad_pool_queries_are_422(client: httpx.AsyncClient, pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    for params in BAD_QUERIES:
        r = await client.get("/api/v1/pools/capabilities", headers=a.auth, params=params)
        assert_problem(r, 422)
