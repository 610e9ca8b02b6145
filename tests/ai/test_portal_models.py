"""Models page in Chromium on a real ``iplus up``: list with stage and lineage, version chart, promote."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from tests.access.conftest import ROOM_MODEL
from tests.e2e.conftest import Running

# the real-process fixture of the browser tests replaces the in-process one of this folder
from tests.e2e.conftest import platform as platform
from tests.e2e.conftest import port_1883_taken as port_1883_taken
from tests.e2e.test_device_pages import _api
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_models_page_chart_and_promote(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    api, _ = _api(platform)
    assert (
        api.post("/api/v1/device-types", json={"name": "room", "thing_model": ROOM_MODEL}).status_code == 201
    )
    assert api.post("/api/v1/devices", json={"type": "room", "id": "room-9"}).status_code == 201
    t0 = 1_780_000_000
    msgs = [
        {
            "device_id": "room-9",
            "ts": t0 + 3600 * i,
            "values": {"temp": 20 + 5 * math.sin(2 * math.pi * i / 24)},
        }
        for i in range(240)
    ]
    assert api.post("/api/v1/telemetry", json={"messages": msgs}).json()["stored"] == 240
    body = {
        "name": "room-temp",
        "kind": "forecast",
        "devices": ["room-9"],
        "key": "temp",
        "params": {"model": "ridge"},
    }
    api.timeout = httpx.Timeout(120)
    r = api.post("/api/v1/models/train", json=body)
    assert r.status_code == 201, r.text

    email, password = platform.logins["operator"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{platform.base_url}/portal/models")
        row = page.locator('section[data-model="room-temp"] tbody tr')
        expect(row).to_have_count(1)
        assert "candidate" in row.inner_text() and "room-9 · temp" in row.inner_text()
        row.locator("a").click()
        expect(page.locator(".chart canvas")).to_have_count(1)
        expect(page.locator("#lineage")).to_contain_text('"readings": 240')
        page.screenshot(path=str(artifacts / "portal-model-version.png"), full_page=True)
        page.click("#promote")
        expect(page.locator("#stage")).to_have_text("production")
        page.click("#archive")
        expect(page.locator("#stage")).to_have_text("archived")
        browser.close()
    assert api.get("/api/v1/models").json()[0]["production"] is None
