"""The Analytics portal page in Chromium on a real ``iplus up``: query, table, chart, job, download."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.access.conftest import ROOM_MODEL
from tests.e2e.conftest import Running, platform, port_1883_taken  # noqa: F401 - fixtures
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

SQL = "SELECT ts, value_num AS temp FROM readings WHERE key = 'temp' ORDER BY ts"


def seed(running: Running) -> list[float]:
    """A device with 25 temperatures, sent through the HTTP ingest API."""
    email, password = running.logins["operator"]
    api = httpx.Client(base_url=running.base_url, timeout=10)
    token = api.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    api.headers["Authorization"] = f"Bearer {token['access_token']}"
    assert (
        api.post("/api/v1/device-types", json={"name": "room", "thing_model": ROOM_MODEL}).status_code == 201
    )
    made = api.post("/api/v1/devices/bulk", json={"devices": [{"type": "room", "id": "an-1"}]}).json()
    dev = {"Authorization": f"Bearer {made[0]['token']}"}
    temps = [18 + i / 4 for i in range(25)]
    for i, t in enumerate(temps):
        ts = f"2026-11-28T10:{i:02d}:00Z"
        r = api.post("/api/v1/devices/an-1/telemetry", headers=dev, json={"ts": ts, "temp": t})
        assert r.status_code == 200, r.text
    return temps


@pytest.mark.browser
def test_query_chart_job_and_download(platform: Running, artifacts: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    temps = seed(platform)
    email, password = platform.logins["operator"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click("nav >> text=Analytics")
        page.fill("#sql", SQL)
        page.click("#run-query")
        expect(page.locator("#query-status")).to_contain_text(f"{len(temps)} rows", timeout=10_000)
        expect(page.locator("#result tbody tr")).to_have_count(len(temps))
        cells = page.locator("#result tbody tr td:nth-child(2)").all_inner_texts()
        assert [float(c) for c in cells] == temps
        expect(page.locator("#chart .chart canvas")).to_have_count(1)
        expect(page.locator("#chart .chart")).to_have_attribute("data-points", str(len(temps)))
        page.screenshot(path=str(artifacts / "portal-analytics.png"), full_page=True)
        # another tenant's data or any other table: the database's refusal is shown
        page.fill("#sql", "SELECT * FROM latest")
        page.click("#run-query")
        expect(page.locator("#query-status")).to_contain_text("not available")
        page.fill("#sql", SQL)
        page.fill("#job-name", "temps")
        page.select_option("#job-format", "csv")
        page.click("#save-form button[type=submit]")
        row = page.locator('#jobs tr[data-job="temps"]')
        expect(row).to_have_count(1)
        row.locator("button", has_text="Run now").click()
        expect(row.locator(".run.succeeded")).to_have_count(1, timeout=20_000)
        with page.expect_download() as info:
            row.locator("a", has_text="download").click()
        lines = Path(info.value.path()).read_text().splitlines()
        assert lines[0] == "ts,temp" and [float(x.split(",")[1]) for x in lines[1:]] == temps
        browser.close()
