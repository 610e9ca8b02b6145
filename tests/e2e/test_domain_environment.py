"""The environment domain in Chromium on a real ``iplus up --demo``: the monitoring network is live, a new
pollution source is registered from the dashboard, its CEMS reports SO2 above the permit for the hold time,
and the pollution alarm appears on the dashboard (live, over SSE) and in the alarm console."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_an_emitter_above_its_limit_raises_a_pollution_alarm(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["provider"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.goto(f"{platform.base_url}/login?next=/portal/environment")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/portal/environment")

        # the seeded network is on the page with its indices, and the page is live
        expect(page.locator("#env-air")).to_contain_text("Xixi Wetland")
        expect(page.locator("#env-air .aqi-badge").first).to_have_text(re.compile(r"^\d+$"))
        expect(page.locator("#env-water")).to_contain_text("West Lake")
        expect(page.locator("#env-emitters")).to_contain_text("Xiaoshan Power Plant")
        expect(page.locator("#live-state")).to_have_text("live")
        page.screenshot(path=str(artifacts / "environment-dashboard.png"), full_page=True)

        # register a new pollution source with its permit from the dashboard
        page.fill("#env-new-source input[name=name]", "E2E Paper Mill")
        page.fill("#env-new-source input[name=device_id]", "env-em-e2e")
        page.fill("#env-new-source input[name=so2_limit]", "100")
        page.fill("#env-new-source input[name=limit_hold_s]", "60")
        page.click("#env-new-source button[type=submit]")
        expect(page.locator("#env-source-created")).to_contain_text("env-permit-env-em-e2e-so2")
        token = page.locator("#device-token").inner_text().strip()
        assert token.startswith("idt_")

        page.goto(f"{platform.base_url}/portal/environment")
        expect(page.locator("#env-emitters")).to_contain_text("E2E Paper Mill")
        expect(page.locator("#live-state")).to_have_text("live")
        expect(page.locator("#env-alarm-table")).not_to_contain_text("E2E Paper Mill")

        # the mill's CEMS reports SO2 above its 100 mg/m3 limit for 61 s (its first, buffered reading
        # and the current one), as a real device does: with its own token
        now = time.time()
        device = httpx.Client(
            base_url=platform.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        for ts, so2 in ((now - 61, 140.0), (now, 152.5)):
            r = device.post(
                "/api/v1/devices/env-em-e2e/telemetry", json={"so2": so2, "nox": 60.0, "dust": 8.0, "ts": ts}
            )
            assert r.status_code == 200, r.text

        # the alarm reaches the open dashboard without a reload
        alarms = page.locator("#env-alarm-table")
        expect(alarms).to_contain_text("E2E Paper Mill", timeout=15_000)
        expect(alarms).to_contain_text("env-permit-env-em-e2e-so2")
        expect(alarms.locator("tr", has_text="E2E Paper Mill").locator("td.sev")).to_have_text("major")
        expect(page.locator("#source-env-em-e2e td.exceeding")).to_contain_text("152.5")
        page.screenshot(path=str(artifacts / "environment-pollution-alarm.png"), full_page=True)

        # and the operator-facing alarm console lists it too
        page.goto(f"{platform.base_url}/portal/alarms?status=active")
        row = page.locator("#alarm-table tr", has_text="env-permit-env-em-e2e-so2")
        expect(row).to_contain_text("env-em-e2e")
        expect(row).to_contain_text("major")
        browser.close()
