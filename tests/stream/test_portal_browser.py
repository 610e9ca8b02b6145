"""Rule editor and alarm console in Chromium on a real ``iplus up``: write a rule, see its alarm live."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.access.conftest import ROOM_MODEL
from tests.e2e.conftest import Running

# this module's platform is a real ``iplus up`` (it overrides the started context of conftest.py)
from tests.e2e.conftest import platform as platform
from tests.e2e.conftest import port_1883_taken as port_1883_taken
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

BAD = "name: hot\nkind: threshold\nkey: temp\nop: '>>'\nvalue: hot\n"
GOOD = "name: hot\nkind: threshold\nkey: temp\nop: '>'\nvalue: 30\nclear: 28\nseverity: critical\n"


@pytest.mark.browser
def test_rule_editor_and_alarm_console(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["operator"]
    api = httpx.Client(base_url=platform.base_url, timeout=10)
    token = api.post("/api/v1/auth/token", data={"username": email, "password": password}).json()[
        "access_token"
    ]
    api.headers["Authorization"] = f"Bearer {token}"
    assert (
        api.post("/api/v1/device-types", json={"name": "room", "thing_model": ROOM_MODEL}).status_code == 201
    )
    made = api.post("/api/v1/devices", json={"type": "room", "id": "boiler-1"})
    assert made.status_code == 201, made.text
    device = {"Authorization": f"Bearer {made.json()['token']}"}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

        page.goto(f"{platform.base_url}/portal/rules")
        page.fill("#rule-text", BAD)
        page.click("#validate")
        problems = page.locator("#problems li")
        expect(problems).to_have_count(2)
        expect(problems.nth(0)).to_contain_text("op")
        expect(problems.nth(1)).to_contain_text("value")
        page.fill("#rule-text", GOOD)
        page.click("#validate")
        expect(page.locator("#valid-note")).to_be_visible()
        expect(problems).to_have_count(0)
        page.click("#rule-form button[type=submit]")
        expect(page.locator('#rule-table tr[data-name="hot"]')).to_have_count(1)
        page.screenshot(path=str(artifacts / "portal-rules.png"), full_page=True)

        page.goto(f"{platform.base_url}/portal/alarms")
        expect(page.locator("#live-state")).to_have_text("live", timeout=10_000)
        expect(page.locator("#alarm-table tbody tr")).to_have_count(0)
        r = api.post("/api/v1/devices/boiler-1/telemetry", headers=device, json={"temp": 35.5})
        assert r.status_code == 200, r.text
        row = page.locator("#alarm-table tbody tr")
        expect(row).to_have_count(1, timeout=5_000)
        expect(row.locator(".status")).to_have_text("raised")
        expect(row).to_contain_text("boiler-1")
        expect(row).to_contain_text("critical")
        row.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#alarm-table tbody tr .status")).to_have_text("acknowledged")
        page.screenshot(path=str(artifacts / "portal-alarms.png"), full_page=True)
        page.locator("#alarm-table tbody tr").get_by_role("button", name="Clear").click()
        # the console shows active alarms by default: the cleared one leaves it
        expect(page.locator("#alarm-table tbody tr")).to_have_count(0)
        page.select_option("select[name=status]", "cleared")
        page.click("#alarm-filters button")
        expect(page.locator("#alarm-table tbody tr .status")).to_have_text("cleared")
        browser.close()
    alarms = api.get("/api/v1/alarms", params={"status": "cleared"}).json()
    assert alarms["total"] == 1 and alarms["items"][0]["acknowledged_at"] is not None
