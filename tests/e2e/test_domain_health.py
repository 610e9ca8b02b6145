"""Health in Chromium on a real ``iplus up --demo``: a resident deteriorates, NEWS2 escalates, the alarm
reaches the caregiver's page live, and the caregiver acknowledges it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

# hand-scored on the RCP NEWS2 chart: every parameter 0 -> NEWS2 0
SETTLED = {
    "heart_rate": 74,
    "respiration_rate": 16,
    "spo2": 97,
    "systolic_bp": 128,
    "temperature": 36.7,
    "consciousness": "alert",
    "on_oxygen": False,
    "spo2_scale": 1,
}
# pulse 125: 2, respiration 26: 3, SpO2 92: 2, systolic 95: 2, 38.5 C: 1, alert: 0, air: 0 -> NEWS2 10 (high)
SEPTIC = SETTLED | {
    "heart_rate": 125,
    "respiration_rate": 26,
    "spo2": 92,
    "systolic_bp": 95,
    "temperature": 38.5,
}


def _api(platform: Running, role: str) -> httpx.Client:
    email, password = platform.logins[role]
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


@pytest.mark.browser
def test_a_deterioration_reaches_the_caregiver_who_acknowledges(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    provider = _api(platform, "provider")
    made = provider.post(
        "/api/v1/devices", json={"type": "health.wearable", "id": "e2e-wearable", "name": "E2E"}
    )
    assert made.status_code == 201, made.text
    device = httpx.Client(
        base_url=platform.base_url, timeout=10, headers={"Authorization": f"Bearer {made.json()['token']}"}
    )

    def send(vitals: dict[str, Any]) -> None:
        sent = device.post("/api/v1/devices/e2e-wearable/telemetry", json=vitals)
        assert sent.status_code == 200, sent.text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("IPLUS_CHROMIUM", CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        email, password = platform.logins["provider"]
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

        # the demo care home is live; the administrator admits a new resident wearing the new wearable
        page.goto(f"{platform.base_url}/portal/health")
        expect(page.locator("#residents article")).to_have_count(4)
        page.click("#admit")
        page.fill("input[name=label]", "Room E2E")
        page.fill("input[name=name]", "Erika Testperson")
        page.fill("input[name=birth_date]", "1941-05-17")
        page.fill("textarea[name=conditions]", "atrial fibrillation")
        page.select_option("select[name=wearable_id]", "e2e-wearable")
        page.click("#admit-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Room E2E")
        # and makes themself the resident's caregiver
        page.select_option("select[name=user_id]", label=f"Demo provider admin ({email})")
        page.click("text=Assign as caregiver")
        expect(page.locator("body")).to_contain_text("Demo provider admin")

        page.goto(f"{platform.base_url}/portal/health/caregiver")
        expect(page.locator("#live-state")).to_have_text("live", timeout=10_000)
        mine = page.locator("#my-residents tr", has_text="Room E2E")
        expect(mine).to_contain_text("Erika Testperson")  # a logged read of the name

        send(SETTLED)
        expect(mine.locator(".news2")).to_have_text("0", timeout=15_000)
        send(SEPTIC)
        row = page.locator("#news2-alarms tr", has_text="Room E2E: NEWS2 10")
        expect(row).to_have_count(1, timeout=15_000)  # arrives live, no reload
        expect(row.locator(".sev")).to_have_text("critical")
        expect(row.locator(".status")).to_have_text("raised")
        expect(mine.locator(".band")).to_have_text("high")
        page.screenshot(path=str(artifacts / "portal-health-caregiver-alarm.png"), full_page=True)
        row.locator("button", has_text="Acknowledge").click()
        row = page.locator("#news2-alarms tr", has_text="Room E2E: NEWS2 10")
        expect(row.locator(".status")).to_have_text("acknowledged", timeout=10_000)
        expect(row.locator("button")).to_have_count(0)
        page.screenshot(path=str(artifacts / "portal-health-caregiver-acknowledged.png"), full_page=True)

        # the reads of personal data on the way are in the access log, with their purpose
        page.goto(f"{platform.base_url}/portal/health/access-log?verify=true")
        expect(page.locator("#verify-result")).to_contain_text("verifies")
        expect(page.locator("#access-entries")).to_contain_text("caregiver page: my residents")
        browser.close()
