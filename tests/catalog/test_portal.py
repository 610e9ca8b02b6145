"""Catalog portal pages over HTTP: CSRF on every form, drafts and orders stay with their parties."""

from __future__ import annotations

import httpx

from iplus.platform.context import Context
from tests.portal.test_portal_http import _csrf, _login, _member

OFFER_FORM = {
    "title": "Laser cutting of steel sheet",
    "capability_type": "laser_cutting",
    "price": "80",
    "currency": "EUR",
    "time": "90",
    "time_unit": "min",
    "reliability": "0.95",
    "availability": "0.9",
    "capacity": "1",
    "inputs": '{"type": "object", "properties": {"thickness": {"type": "number", "unit": "mm"}}, "required": ["thickness"]}',
    "sla": "",
}


async def test_offer_and_order_forms(ctx: Context, client: httpx.AsyncClient) -> None:
    provider = await _member(ctx, "Cutters", ["provider"])
    user = await _member(ctx, "Buyer", ["user"])
    other = await _member(ctx, "Other", ["user"])
    await _login(client, provider)
    assert (await client.post("/portal/offers", data=OFFER_FORM)).status_code == 403
    token = await _csrf(client, "/portal/offers/new")
    bad = await client.post("/portal/offers", data={**OFFER_FORM, "inputs": "{", "csrf_token": token})
    assert bad.status_code == 422 and "inputs: not JSON" in bad.text
    made = await client.post("/portal/offers", data={**OFFER_FORM, "csrf_token": token})
    assert made.status_code == 303
    offer_path = made.headers["location"]
    page = await client.get(offer_path)
    assert "1.5 h" not in page.text and "90 min" in page.text and "draft" in page.text
    client.cookies.clear()

    await _login(client, user)
    assert (await client.get(offer_path)).status_code == 404  # a draft is the provider's alone
    client.cookies.clear()
    await _login(client, provider)
    token = await _csrf(client, offer_path)
    moved = await client.post(f"{offer_path}/stage", data={"stage": "published", "csrf_token": token})
    assert moved.status_code == 303
    client.cookies.clear()

    await _login(client, user)
    found = await client.get("/portal/offers", params={"q": "steel", "type": "sheet_metal_forming"})
    assert "Laser cutting of steel sheet" in found.text
    token = await _csrf(client, offer_path)
    order = {"window_start": "2027-02-01T08:00", "window_end": "2027-02-01T10:00", "csrf_token": token}
    refused = await client.post(f"{offer_path}/order", data={**order, "in-thickness": "thick"})
    assert refused.status_code == 422 and "is not a number" in refused.text
    refused = await client.post(f"{offer_path}/order", data=order)
    assert refused.status_code == 422 and "thickness" in refused.text  # required input missing
    placed = await client.post(f"{offer_path}/order", data={**order, "in-thickness": "3"})
    assert placed.status_code == 303
    order_path = placed.headers["location"]
    live = (await client.get(f"{order_path}/live")).json()
    assert live["status"] == "requested" and live["history"][0]["by"] == "user"
    client.cookies.clear()

    await _login(client, other)
    assert (await client.get(order_path)).status_code == 404
    assert (await client.get(f"{order_path}/live")).status_code == 404
