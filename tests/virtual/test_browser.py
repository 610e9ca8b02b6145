"""Virtual things and pools in Chromium on a real ``iplus up``: a provider virtualises a device, a user finds it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from iplus.standards.wot import schema_errors
from tests.e2e.conftest import Running, platform, port_1883_taken  # noqa: F401 - fixtures
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS
from tests.virtual.conftest import METER_MODEL


def _seed_device(platform: Running) -> None:  # noqa: F811 - the fixture's value
    email, password = platform.logins["provider"]
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    r = client.post(
        "/api/v1/device-types", headers=auth, json={"name": "spindle", "thing_model": METER_MODEL}
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/devices", headers=auth, json={"type": "spindle", "id": "cell-9", "name": "Cell 9"}
    )
    assert r.status_code == 201, r.text
    device_token = r.json()["token"]
    r = client.post(
        "/api/v1/devices/cell-9/telemetry",
        headers={"Authorization": f"Bearer {device_token}"},
        json={"power": 12.5, "busy": True},
    )
    assert r.status_code in (200, 202), r.text


@pytest.mark.browser
def test_provider_virtualises_a_device_and_a_user_finds_it(platform: Running, artifacts: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    _seed_device(platform)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        email, password = platform.logins["provider"]
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click("nav >> text=Pools")
        page.click("text=My virtual things")
        page.click("#new-thing")
        page.select_option("select[name=type]", "milling")
        page.select_option("select[name=visibility]", "public")
        page.select_option("select[name=from_device]", "cell-9")
        page.fill("textarea[name=attributes]", "max_part_size_mm=400\nmaterial=steel")
        page.fill("input[name=lat]", "48.137")
        page.fill("input[name=lon]", "11.575")
        page.click("#thing-form button[type=submit]")
        expect(page.locator("#thing-title")).to_have_text("Cell 9")
        expect(page.locator("#state-table tr", has_text="power")).to_contain_text("12.5")
        page.screenshot(path=str(artifacts / "portal-virtual-thing.png"), full_page=True)
        href = page.locator("#td-link").get_attribute("href")
        td = page.context.request.get(f"{platform.base_url}{href}")  # with the browser's session cookie
        assert td.ok and schema_errors(td.json(), "td") == [] and "iplus:milling" in td.json()["@type"]
        # an edit with a bad type is refused with the reason on the form
        page.click("#edit-thing")
        page.select_option("select[name=type]", "charger")
        page.click("#thing-form button[type=submit]")
        expect(page.locator("#form-errors")).to_contain_text("is a resource type")
        page.context.clear_cookies()

        email, password = platform.logins["user"]
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click("nav >> text=Pools")
        page.select_option("#pool-search select[name=type]", "machining")
        page.fill("#pool-search input[name=attrs]", "max_part_size_mm=300..")
        page.fill("#pool-search input[name=near]", "48.2,11.6")
        page.fill("#pool-search input[name=radius_km]", "20")
        page.click("#pool-search button[type=submit]")
        expect(page.locator("#pool-total")).to_contain_text("1 match")
        expect(page.locator("#pool-table tbody tr").first).to_contain_text("Cell 9")
        expect(page.locator("#facets")).to_contain_text("Milling (1)")
        page.screenshot(path=str(artifacts / "portal-pools.png"), full_page=True)
        page.fill("#pool-search input[name=radius_km]", "5")  # 48.137,11.575 is 7.2 km from 48.2,11.6
        page.click("#pool-search button[type=submit]")
        expect(page.locator("#pool-total")).to_contain_text("0 matches")
        browser.close()
