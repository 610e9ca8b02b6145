"""The Simulation portal page in Chromium on a real ``iplus up``: form, progress, plots, comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Running, platform, port_1883_taken  # noqa: F401 - fixtures
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_simulation_page_runs_plots_and_compares(platform: Running, artifacts: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["user"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click("nav >> text=Simulation")
        expect(page.locator("h1")).to_have_text("Simulation")

        # a refused parameter comes back with its reason, the form keeps what was typed
        page.select_option("#kind", "ev_charging")
        expect(page.locator('fieldset[data-kind="ev_charging"]')).to_be_visible()
        expect(page.locator('fieldset[data-kind="queueing_station"]')).to_be_hidden()
        page.fill('[id="p.ev_charging.chargers"]', "0")
        page.click("#start-run")
        expect(page.locator("#run-error")).to_contain_text("chargers: must be >= 1")
        expect(page.locator('[id="p.ev_charging.chargers"]')).to_have_value("0")

        page.fill('[id="p.ev_charging.chargers"]', "3")
        page.fill('[id="p.ev_charging.horizon"]', "200")
        page.fill('[id="p.ev_charging.warmup"]', "10")
        page.fill("#name", "three chargers")
        page.fill("#replications", "3")
        page.click("#start-run")
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=30_000)
        expect(page.locator("#run-count")).to_have_text("3/3")
        expect(page.locator("#charts-0 .chart canvas")).to_have_count(3)  # occupied, waiting, power
        expect(page.locator('.kpis tr[data-kpi="utilisation"]')).to_be_visible()
        page.screenshot(path=str(artifacts / "portal-simulation-run.png"), full_page=True)

        page.goto(f"{platform.base_url}/portal/simulation")
        page.select_option("#kind", "ev_charging")
        page.fill('[id="p.ev_charging.chargers"]', "5")
        page.fill('[id="p.ev_charging.horizon"]', "200")
        page.fill('[id="p.ev_charging.warmup"]', "10")
        page.fill("#name", "five chargers")
        page.click("#start-run")
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=30_000)

        page.goto(f"{platform.base_url}/portal/simulation")
        rows = page.locator("#runs tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator(".status")).to_have_text("succeeded")
        rows.nth(0).locator("input[type=checkbox]").check()
        rows.nth(1).locator("input[type=checkbox]").check()
        page.click("#compare")
        header = page.locator("#compare-table thead")
        expect(header).to_contain_text("three chargers")
        expect(header).to_contain_text("five chargers")
        cells = page.locator('#compare-table tr[data-kpi="utilisation"] td')
        expect(cells).to_have_count(3)
        five, three = (float(cells.nth(i).inner_text().split()[0]) for i in (1, 2))
        assert five < three  # the same demand spread over more chargers
        expect(page.locator(".sim-compare .chart canvas")).to_have_count(6)
        page.screenshot(path=str(artifacts / "portal-simulation-compare.png"), full_page=True)

        # a domain's own scenario kind, registered by its package, runs from the same form
        page.goto(f"{platform.base_url}/portal/simulation")
        page.select_option("#kind", "health.escalation_response")
        page.fill('[id="p.health.escalation_response.caregivers"]', "3")
        page.fill("#name", "night shift")
        page.click("#start-run")
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
        expect(page.locator('.kpis tr[data-kpi="high_within_target"]')).to_be_visible()
        expect(page.locator('.kpis tr[data-kpi="utilisation"]')).to_be_visible()
        page.screenshot(path=str(artifacts / "portal-simulation-domain.png"), full_page=True)
        browser.close()
    assert not errors, errors
    # the refused form is the only failed request (no missing script, style or data)
    assert failed == [f"422 {platform.base_url}/portal/simulation/runs"], failed
