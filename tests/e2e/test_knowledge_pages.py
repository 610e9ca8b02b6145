"""Knowledge pages in Chromium on a real ``iplus up``: try an algorithm, add a rule, see its versions."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_algorithm_form_and_rule_editor(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email, password = platform.logins["provider"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click("nav >> text=Knowledge")
        expect(page.locator("#algorithm-table")).to_contain_text("queueing.mmc")
        page.click("text=queueing.mmc")
        # M/M/1 with rho = 0.75: L = rho / (1 - rho) = 3, W = 1 / (mu - lambda) = 1 h
        page.fill("#in-arrival_rate", "3")
        page.fill("#in-service_rate", "4")
        page.fill("#in-servers", "1")
        page.click("#algorithm-form button[type=submit]")
        result = page.locator("#algorithm-result")
        expect(result.locator("tr", has_text="mean_in_system")).to_contain_text("3")
        expect(result.locator("tr", has_text="mean_time_in_system")).to_contain_text("h")
        page.screenshot(path=str(artifacts / "portal-algorithm.png"), full_page=True)
        # an unstable queue is explained, not a crash
        page.fill("#in-arrival_rate", "5")
        page.click("#algorithm-form button[type=submit]")
        expect(page.locator("#algorithm-errors")).to_contain_text("unstable")

        page.goto(f"{platform.base_url}/portal/knowledge")
        page.fill("input[name=title]", "Dry soil")
        page.click("#add button[type=submit]")  # a rule without when/then is refused with reasons
        expect(page.locator("#knowledge-errors")).to_contain_text("content/when")
        page.fill("input[name=when]", "soil moisture below 20 % and no rain forecast")
        page.fill("input[name=then]", "irrigate 10 mm at night")
        page.fill("input[name=tags]", "irrigation, Agriculture")
        page.click("#add button[type=submit]")
        expect(page.locator("#rule-content")).to_contain_text("irrigate 10 mm at night")
        expect(page.locator("#revision-table tbody tr")).to_have_count(1)
        item_url = page.url
        page.goto(f"{platform.base_url}/portal/knowledge?tag=agriculture")
        expect(page.locator("#knowledge-table tbody tr")).to_have_count(1)
        page.screenshot(path=str(artifacts / "portal-knowledge.png"), full_page=True)
        browser.close()

    # the item made in the browser is the one the API serves
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    item_id = item_url.rsplit("/", 1)[-1]
    got = client.get(
        f"/api/v1/knowledge/{item_id}", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert got.status_code == 200 and got.json()["content"]["then"] == "irrigate 10 mm at night"
    assert got.json()["tags"] == ["irrigation", "agriculture"]
