"""Portal pages over HTTP: create from a device, edit with errors shown, the pools page with facets and pages."""

from __future__ import annotations

import re

import httpx

from iplus.platform.context import Context
from iplus.standards.wot import schema_errors
from tests.api.helpers import PASSWORD, tenant
from tests.virtual.conftest import METER_MODEL

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _login(client: httpx.AsyncClient, email: str) -> None:
    token = CSRF.search((await client.get("/login")).text)
    assert token
    r = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    match = CSRF.search((await client.get(path)).text)
    assert match
    return match.group(1)


async def test_my_things_and_pools_pages(ctx: Context, client: httpx.AsyncClient) -> None:
    await ctx.telemetry.open()
    a = await tenant(ctx, client, "Maker", ["provider"])
    b = await tenant(ctx, client, "Buyer", ["user"])
    r = await client.post(
        "/api/v1/device-types", headers=a.auth, json={"name": "meter", "thing_model": METER_MODEL}
    )
    assert r.status_code == 201
    r = await client.post("/api/v1/devices", headers=a.auth, json={"type": "meter", "id": "m1"})
    assert r.status_code == 201
    await _login(client, a.email)
    form = {
        "csrf_token": await _csrf(client, "/portal/virtual/new"),
        "kind": "capability",
        "type": "milling",
        "title": "Milling cell",
        "visibility": "public",
        "attributes": "max_part_size_mm=400\nmaterial=steel\ncertified=true",
        "lat": "48.1",
        "lon": "11.5",
        "calendar": "2026-12-01T08:00 / 2026-12-01T18:00",
        "from_device": "m1",
    }
    r = await client.post("/portal/virtual/new", data=form)
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert "capability/manufacturing/machining/milling" in page and "power ← power" in page
    thing_id = r.headers["location"].rsplit("/", 1)[-1]
    td = await client.get(f"/portal/virtual/{thing_id}/td")
    assert td.headers["content-type"].startswith("application/td+json")
    assert schema_errors(td.json(), "td") == [] and td.json()["links"][0]["href"].endswith("/devices/m1/td")
    listed = (await client.get(f"/api/v1/virtual-things/{thing_id}", headers=a.auth)).json()
    assert listed["attributes"] == {"max_part_size_mm": 400, "material": "steel", "certified": True}
    assert listed["calendar"][0]["starts_at"].startswith("2026-12-01T08:00:00")
    # a bad edit shows every reason on the form and changes nothing
    bad = {**form, "csrf_token": await _csrf(client, f"/portal/virtual/{thing_id}/edit"), "type": "charger"}
    bad["affordances"] = '{"properties": {"x": {"type": "bogus"}}}'
    r = await client.post(f"/portal/virtual/{thing_id}/edit", data=bad)
    assert r.status_code == 422 and "is a resource type" in r.text
    assert (await client.get(f"/api/v1/virtual-things/{thing_id}", headers=a.auth)).json()[
        "type"
    ] == "milling"

    client.cookies.clear()
    await _login(client, b.email)
    page = await client.get(
        "/portal/pools", params={"kind": "capability", "type": "machining", "attrs": "max_part_size_mm=300.."}
    )
    assert page.status_code == 200 and "Milling cell" in page.text and "1 match," in page.text
    assert "Milling</a> (1)" in page.text  # the type facet
    none = await client.get("/portal/pools", params={"kind": "capability", "attrs": "max_part_size_mm=500.."})
    assert "0 matches" in none.text
    window = {"kind": "capability", "available_from": "2026-12-01T09:00", "available_to": "2026-12-01T17:00"}
    assert "1 match," in (await client.get("/portal/pools", params=window)).text
    assert (await client.get("/portal/pools", params={"kind": "capability", "near": "x"})).status_code == 422
    other = await client.get(f"/portal/virtual/{thing_id}")
    assert other.status_code == 200 and "Edit" not in other.text  # public: visible, not editable
    assert (await client.get(f"/portal/virtual/{thing_id}/edit")).status_code == 404
