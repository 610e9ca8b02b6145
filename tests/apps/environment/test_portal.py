"""The monitoring-network pages over HTTP: login, the dashboard and its live fragment, the chart's data,
registering a pollution source (CSRF, every problem listed, token shown once) and changing a permit."""

from __future__ import annotations

import re

import pytest

from iplus.apps.environment.network import AIR_STATIONS, EMITTERS, WATER_STATIONS
from tests.apps.environment.conftest import Network
from tests.portal.test_portal_http import _csrf, _login

pytestmark = pytest.mark.asyncio(loop_scope="module")
SOURCE = {
    "name": "Portal test boiler",
    "device_id": "env-em-portal",
    "latitude": "30.31",
    "longitude": "120.12",
    "so2_limit": "50",
    "nox_limit": "100",
    "dust_limit": "10",
    "limit_hold_s": "30",
}


async def _logged_in(network: Network) -> None:
    client = network.client
    client.cookies.clear()
    response = await _login(client, network.email)
    assert response.status_code == 303


async def test_the_dashboard_needs_a_login(network: Network) -> None:
    network.client.cookies.clear()
    response = await network.client.get("/portal/environment")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_the_dashboard_shows_the_network(network: Network) -> None:
    await _logged_in(network)
    page = await network.client.get("/portal/environment")
    assert page.status_code == 200
    html = page.text
    for site in (*AIR_STATIONS, *WATER_STATIONS, *EMITTERS):
        assert site.name in html
    assert re.search(r'class="aqi-badge c-(green|yellow|orange|red|purple|maroon)">\d+<', html)
    assert re.search(r'class="class-badge w-[1-6]">(I|II|III|IV|V|worse than V)<', html)
    assert 'id="env-alarm-table"' in html and 'name="csrf_token"' in html
    assert "/static/domain_environment.js" in html
    fragment = await network.client.get("/portal/environment/panel")
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="env-live"' in fragment.text
    series = await network.client.get("/portal/environment/series", params={"device": AIR_STATIONS[0].id})
    body = series.json()
    assert series.status_code == 200 and len(body["t"]) == len(body["pm2_5"]) == len(body["aqi"]) >= 24 * 7
    missing = await network.client.get("/portal/environment/series", params={"device": "nope"})
    assert missing.status_code == 404


async def test_registering_a_source_shows_its_token_once(network: Network) -> None:
    await _logged_in(network)
    client = network.client
    assert (await client.post("/portal/environment/sources", data=SOURCE)).status_code == 403
    token = await _csrf(client, "/portal/environment")
    bad = {**SOURCE, "so2_limit": "-3", "latitude": "north", "limit_hold_s": "x", "csrf_token": token}
    refused = await client.post("/portal/environment/sources", data=bad)
    assert refused.status_code == 422
    for problem in ("/latitude", "/so2_limit", "/limit_hold_s"):
        assert problem in refused.text
    made = await client.post("/portal/environment/sources", data={**SOURCE, "csrf_token": token})
    assert made.status_code == 200, made.text
    device_token = re.search(r'id="device-token">(idt_[^<]+)<', made.text)
    assert device_token and "env-permit-env-em-portal-so2" in made.text
    reading = await client.post(
        "/api/v1/devices/env-em-portal/telemetry",
        json={"so2": 12.0, "nox": 40.0, "dust": 2.0},
        headers={"Authorization": f"Bearer {device_token.group(1)}"},
    )
    assert reading.status_code == 200
    again = await client.post("/portal/environment/sources", data={**SOURCE, "csrf_token": token})
    assert again.status_code == 409  # the device id is taken; nothing else was stored
    page = await client.get("/portal/environment")
    assert "Portal test boiler" in page.text and device_token.group(1) not in page.text


async def test_changing_a_permit_from_the_dashboard(network: Network) -> None:
    await _logged_in(network)
    client = network.client
    token = await _csrf(client, "/portal/environment")
    stack = EMITTERS[0]
    form = {
        "so2_limit": "30",
        "nox_limit": "45",
        "dust_limit": "5",
        "limit_hold_s": "90",
        "csrf_token": token,
    }
    moved = await client.post(f"/portal/environment/sources/{stack.id}/permit", data=form)
    assert moved.status_code == 303 and moved.headers["location"] == "/portal/environment#emitters"
    rules = {r["name"]: r for r in await network.ctx.rules.list_rules(network.caller)}
    assert rules[f"env-permit-{stack.id}-dust"]["definition"]["value"] == 5
    assert rules[f"env-permit-{stack.id}-dust"]["definition"]["for_s"] == 90
    refused = await client.post(
        f"/portal/environment/sources/{stack.id}/permit", data={**form, "dust_limit": "0"}
    )
    assert refused.status_code == 422 and "dust_limit" in refused.text
