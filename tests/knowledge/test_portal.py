"""Knowledge portal pages over HTTP: CSRF on every form, tenancy, typed algorithm inputs."""

from __future__ import annotations

import httpx

from iplus.platform.context import Context
from tests.portal.test_portal_http import _csrf, _login, _member


async def test_forms_need_csrf_and_items_stay_in_their_organisation(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    a = await _member(ctx, "Acme", ["user"])
    b = await _member(ctx, "Other", ["user"])
    await _login(client, a)
    form = {"kind": "document", "title": "Manual", "body": "text"}
    assert (await client.post("/portal/knowledge", data=form)).status_code == 403
    token = await _csrf(client, "/portal/knowledge")
    made = await client.post("/portal/knowledge", data={**form, "csrf_token": token})
    assert made.status_code == 303
    item_path = made.headers["location"]
    assert (await client.get(item_path)).status_code == 200
    bad = await client.post(
        "/portal/algorithms/queueing.mmc",
        data={"arrival_rate": "three", "service_rate": "4", "servers": "1", "csrf_token": token},
    )
    assert bad.status_code == 422 and "is not a number" in bad.text
    assert (
        await client.post("/portal/algorithms/queueing.mmc", data={"arrival_rate": "1"})
    ).status_code == 403

    client.cookies.clear()
    await _login(client, b)
    assert (await client.get(item_path)).status_code == 404
    assert "Manual" not in (await client.get("/portal/knowledge")).text
