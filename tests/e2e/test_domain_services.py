"""The environment's air quality report in Chromium on a real ``iplus up --demo``: the demo user finds the
offer, orders yesterday's report, and the platform delivers it: the order page shows the AQI; the seeded
demo orders are there, completed, with their deliverables - the agriculture irrigation advisory among them,
with its figures and chart."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.browser
def test_the_demo_user_orders_an_air_quality_report(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["user"]
    yesterday = (dt.datetime.now(CST).date() - dt.timedelta(days=1)).isoformat()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.goto(f"{platform.base_url}/login?next=/portal/orders")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/portal/orders")
        # the demo seeded one order of each environment service, completed
        expect(page.locator("body")).to_contain_text("completed")

        page.goto(f"{platform.base_url}/portal/offers?q=air+quality+report")
        page.get_by_role("link", name="Air quality report").first.click()
        page.wait_for_url("**/portal/offers/*")
        page.select_option("#in-station", "env-aq-binjiang")
        page.fill("#in-date", yesterday)
        page.select_option("#in-standard", "cn")
        page.fill("#window-start", now.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#window-end", (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        page.click("#order button[type=submit]")
        page.wait_for_url(re.compile(r".*/portal/orders/[A-Za-z0-9]+$"))
        order_id = page.url.rsplit("/", 1)[-1]

        # the platform accepts, computes and completes it; the page shows the deliverable
        expect(page.locator("#order-status")).to_have_text("completed", timeout=30_000)
        expect(page.locator("#deliverable-title")).to_contain_text("Binjiang", timeout=10_000)
        aqi = page.locator("#deliverable-figures tr[data-key=aqi] .value").inner_text().strip()
        assert re.fullmatch(r"\d+", aqi), aqi
        expect(page.locator("#deliverable .deliverable-chart canvas").first).to_be_visible()
        page.screenshot(path=str(artifacts / "environment-air-report-order.png"), full_page=True)

        # the farm's demo order: placed once the replayed station has a complete day
        advisory = _advisory_order(platform.base_url, email, password)
        page.goto(f"{platform.base_url}/portal/orders/{advisory}")
        expect(page.locator("#order-status")).to_have_text("completed", timeout=10_000)
        expect(page.locator("#deliverable-title")).to_contain_text("Irrigation advisory")
        irrigate = page.locator("#deliverable-figures tr[data-key=irrigate] .value").inner_text().strip()
        assert irrigate in ("yes", "no"), irrigate
        expect(page.locator("#deliverable-figures tr[data-key=et0] .value")).to_have_text(re.compile(r"^\d"))
        expect(page.locator("#deliverable .deliverable-chart canvas").first).to_be_visible()
        page.screenshot(path=str(artifacts / "agriculture-irrigation-advisory-order.png"), full_page=True)
        browser.close()

    # the same figure over the API, for the ordering user
    with httpx.Client(base_url=platform.base_url, timeout=10) as c:
        token = c.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        report = c.get(f"/api/v1/orders/{order_id}/deliverable", headers=auth).json()["content"]
    assert report["aqi"] == int(aqi) and report["date"] == yesterday and len(report["hourly"]) == 24


def _advisory_order(base_url: str, email: str, password: str, seconds: float = 90) -> str:
    """The demo user's irrigation advisory order, once the platform has completed it."""
    with httpx.Client(base_url=base_url, timeout=10) as c:
        token = c.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        offers = c.get("/api/v1/offers", params={"type": "irrigation"}, headers=auth).json()
        items: list[dict[str, Any]] = offers["items"]
        offer_ids = {o["id"] for o in items}
        deadline = time.monotonic() + seconds
        while True:
            listed = c.get("/api/v1/orders", params={"role": "user"}, headers=auth).json()
            orders = listed["items"]
            found = [o for o in orders if o["offer_id"] in offer_ids and o["status"] == "completed"]
            if found or time.monotonic() > deadline:
                assert found, orders
                return str(found[0]["id"])
            time.sleep(1)
