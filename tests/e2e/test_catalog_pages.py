"""Service catalog in Chromium on a real ``iplus up``: publish, find, order, accept, follow the twin."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

MILL_MODEL = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Milling machine",
    "properties": {
        "progress": {"type": "number", "unit": "%", "minimum": 0, "maximum": 100},
        "state": {"type": "string", "enum": ["idle", "working", "done", "failed"]},
    },
}


def _api(platform: Running, role: str) -> httpx.Client:
    email, password = platform.logins[role]
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


@pytest.mark.browser
def test_publish_find_order_accept_and_follow_the_twin(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # the provider's machine: a device and the virtual thing it grounds (set up over the API)
    provider_api = _api(platform, "provider")
    assert (
        provider_api.post(
            "/api/v1/device-types", json={"name": "mill", "thing_model": MILL_MODEL}
        ).status_code
        == 201
    )
    made = provider_api.post("/api/v1/devices", json={"type": "mill", "id": "mill-e2e"})
    assert made.status_code == 201, made.text
    device_token = made.json()["token"]
    thing = provider_api.post(
        "/api/v1/virtual-things",
        json={"kind": "resource", "type": "cnc_mill", "title": "Mill E2E", "from_device": "mill-e2e"},
    )
    assert thing.status_code == 201, thing.text

    def login(page: object, role: str) -> None:
        email, password = platform.logins[role]
        page.goto(f"{platform.base_url}/login")  # type: ignore[attr-defined]
        page.fill("input[name=email]", email)  # type: ignore[attr-defined]
        page.fill("input[name=password]", password)  # type: ignore[attr-defined]
        page.click("button[type=submit]")  # type: ignore[attr-defined]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        provider = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        login(provider, "provider")
        provider.click("nav >> text=Services")
        provider.click("#new-offer")
        provider.fill("input[name=title]", "Titanium milling on Mill E2E")
        provider.select_option("select[name=capability_type]", "milling")
        provider.select_option("select[name=things]", label="Mill E2E (cnc_mill)")
        provider.click("#offer-form button[type=submit]")  # empty QoS is refused with reasons
        expect(provider.locator("#offer-errors")).to_contain_text("price")
        provider.fill("input[name=price]", "240")
        provider.fill("input[name=time]", "5")
        provider.fill("input[name=reliability]", "0.97")
        provider.fill("input[name=availability]", "0.99")
        provider.fill("input[name=capacity]", "2")
        provider.select_option("select[name=things]", label="Mill E2E (cnc_mill)")
        provider.click("#offer-form button[type=submit]")
        expect(provider.locator("#offer-stage")).to_have_text("draft")
        provider.click("#stage-published")
        expect(provider.locator("#offer-stage")).to_have_text("published")
        expect(provider.locator("#offer-facts")).to_contain_text("mill-e2e")

        user = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        login(user, "user")
        user.click("nav >> text=Services")
        user.fill("#search input[name=q]", "titanium")
        user.select_option("#search select[name=type]", "machining")  # a super-type finds milling
        user.click("#search button[type=submit]")
        expect(user.locator("#offer-results tbody tr")).to_have_count(1)
        user.check("#offer-results input[name=ids]")
        user.click("#compare")
        expect(user.locator("#compare-table")).to_contain_text("240 EUR")
        user.click("#compare-table >> text=Titanium milling on Mill E2E")
        user.fill("#in-material", "Ti-6Al-4V")
        user.fill("#in-quantity", "3")
        user.fill("#window-start", "2027-03-01T08:00")
        user.fill("#window-end", "2027-03-01T16:00")
        user.click("#order button[type=submit]")
        expect(user.locator("#order-status")).to_have_text("requested")
        order_url = user.url

        provider.click("nav >> text=Services")
        provider.click("text=Orders")
        # the demo region's own orders (completed by the platform) share the table: pick this one's row
        order_id = order_url.rstrip("/").rsplit("/", 1)[-1]
        row = provider.locator(f"#incoming-orders tr[data-order='{order_id}']")
        row.locator("button", has_text="Accept").click()
        expect(provider.locator(f"#incoming-orders tr[data-order='{order_id}'] .status")).to_have_text(
            "accepted"
        )

        # the machine reports over HTTP; the user's open order page follows without a reload
        device = httpx.Client(
            base_url=platform.base_url, timeout=10, headers={"Authorization": f"Bearer {device_token}"}
        )
        assert (
            device.post(
                "/api/v1/devices/mill-e2e/telemetry", json={"progress": 45, "state": "working"}
            ).status_code
            < 300
        )
        expect(user.locator("#order-status")).to_have_text("in_progress", timeout=10_000)
        expect(user.locator("#order-progress-text")).to_have_text("45 %")
        expect(user.locator("#order-devices")).to_contain_text("working")
        user.screenshot(path=str(artifacts / "portal-order-progress.png"), full_page=True)
        assert (
            device.post(
                "/api/v1/devices/mill-e2e/telemetry", json={"progress": 100, "state": "done"}
            ).status_code
            < 300
        )
        expect(user.locator("#order-status")).to_have_text("completed", timeout=10_000)
        expect(user.locator("#order-history")).to_contain_text("twin")
        assert user.url == order_url

        # the operator reviews: pool statistics, then suspends the offer with a reason
        operator = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        login(operator, "operator")
        operator.click("nav >> text=Services")
        # the demo region's own orders (reports and advice the platform delivered) are counted too
        expect(operator.locator("#pool-stats")).to_contain_text(re.compile(r"completed: [1-9]"))
        operator.click("#offer-results >> text=Titanium milling on Mill E2E")
        operator.fill("#operator-actions input[name=reason]", "SLA missing")
        operator.click("#suspend")
        expect(operator.locator("#offer-stage")).to_have_text("suspended")
        expect(operator.locator("#history-table")).to_contain_text("SLA missing")
        provider.reload()
        provider.goto(operator.url)
        expect(provider.locator("#offer-stage")).to_have_text("suspended")
        browser.close()

    order_id = order_url.rsplit("/", 1)[-1]
    got = _api(platform, "user").get(f"/api/v1/orders/{order_id}").json()
    assert [h["status"] for h in got["history"]] == ["requested", "accepted", "in_progress", "completed"]
