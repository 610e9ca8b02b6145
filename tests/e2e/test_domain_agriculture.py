"""Agriculture in Chromium on a real ``iplus up --demo``: an irrigation decision opens a field's valve through
the platform (the valve's twin shows the command acknowledged), and a batch's QR page needs no login."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_a_decision_commands_the_valve_and_the_qr_page_is_public(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["provider"]
    backfilled = f"{datetime.now(UTC).year}-06-30"  # the demo fills in the day before its replay starts
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{platform.base_url}/portal/agriculture")
        north = page.locator('#agri-fields tr[data-title="North field"]')
        # the feed reads the TMY3 year and fills in 30 June once the platform is up
        for _ in range(60):
            if backfilled in north.locator(".weather-days").inner_text():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(north.locator(".weather-days")).to_contain_text(backfilled)
        expect(north.locator(".valve-state")).to_have_text("closed")
        page.screenshot(path=str(artifacts / "agri-dashboard.png"), full_page=True)

        north.locator("a").first.click()
        page.fill("input[name=day]", backfilled)
        page.click("form.inline button[type=submit]")
        expect(page.locator("#decision-verdict")).to_have_text("Irrigate")
        expect(page.locator("#et0 tr[data-key=et0] td")).not_to_be_empty()
        # the page follows the command until the valve's controller answers over MQTT
        expect(page.locator("#command-status")).to_have_text("acknowledged", timeout=20_000)
        gross = page.locator("#gross").inner_text()
        page.screenshot(path=str(artifacts / "agri-decision.png"), full_page=True)

        page.click("#valve-link")
        expect(page.locator("#command-table tbody tr").first.locator(".status")).to_have_text("acknowledged")
        expect(page.locator('#twin tr[data-key="state"] .reported')).to_have_text("open", timeout=10_000)
        page.screenshot(path=str(artifacts / "agri-valve.png"), full_page=True)
        assert re.fullmatch(r"\d+\.\d mm", gross)

        page.goto(f"{platform.base_url}/portal/agriculture/batches")
        code = page.locator("#agri-batches tbody tr").first.get_attribute("data-code")
        assert code and re.fullmatch(r"[0-9a-z]{16}", code)
        page.goto(f"{platform.base_url}/portal/agriculture/batches")
        page.locator("#agri-batches tbody tr a").first.click()
        expect(page.locator("#chain-state")).to_contain_text("The hash chain verifies: 4 steps")
        expect(page.locator("#batch-qr svg")).to_have_count(1)

        # a shopper scanning the label: a fresh browser, nobody logged in
        shopper = browser.new_context().new_page()
        shopper.goto(f"{platform.base_url}/trace/{code}")
        expect(shopper.locator("#trace-state")).to_contain_text("Verified")
        expect(shopper.locator("#trace-steps tbody tr")).to_have_count(4)
        expect(shopper.locator("header nav")).to_have_count(0)
        shopper.screenshot(path=str(artifacts / "agri-trace.png"), full_page=True)
        missing = shopper.goto(f"{platform.base_url}/trace/0000000000000000")
        assert missing is not None and missing.status == 404
        expect(shopper.locator("#trace-missing")).to_be_visible()
        browser.close()
