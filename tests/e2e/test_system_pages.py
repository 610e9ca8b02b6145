"""Service systems in Chromium on a real ``iplus up``: build, plan, run, the provider works, the user rates."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS

NO_INPUTS = {"type": "object", "properties": {}}


def _api(platform: Running, role: str) -> httpx.Client:
    email, password = platform.logins[role]
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


def _publish(api: httpx.Client, title: str, type_: str, price: float, time_h: float, rel: float) -> str:
    body = {
        "title": title,
        "capability_type": type_,
        "inputs": NO_INPUTS,
        "qos": {
            "price": {"value": price, "unit": "EUR"},
            "time": {"value": time_h, "unit": "h"},
            "reliability": {"value": rel, "unit": "1"},
            "availability": {"value": 0.99, "unit": "1"},
            "capacity": {"value": 2, "unit": "orders"},
        },
    }
    made = api.post("/api/v1/offers", json=body)
    assert made.status_code == 201, made.text
    offer_id: str = made.json()["id"]
    assert api.post(f"/api/v1/offers/{offer_id}/stage", json={"stage": "published"}).status_code == 200
    return offer_id


@pytest.mark.browser
def test_build_plan_run_work_and_rate(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    provider_api = _api(platform, "provider")
    _publish(provider_api, "Milling M1", "milling", 60, 1, 0.98)
    _publish(provider_api, "Milling slow", "milling", 90, 3, 0.9)  # worse on every count: never chosen
    _publish(provider_api, "Inspection I1", "quality_inspection", 20, 0.5, 0.99)

    def login(page: Any, role: str) -> None:
        email, password = platform.logins[role]
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("IPLUS_CHROMIUM", CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        user = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        login(user, "user")
        user.click("nav >> text=Systems")
        user.click("#new-system")

        # the builder: two tasks in the top sequence, the JSON follows every edit; wait for the script to
        # have drawn the sample first, or an edit typed before it runs is lost to the sample's values
        expect(user.locator("#builder-tree .node").first).to_be_visible()
        expect(user.locator("[data-global=name]")).to_have_value("Night maintenance")
        user.fill("[data-global=name]", "Bracket job")
        expect(user.locator("[data-global=name]")).to_have_value("Bracket job")
        user.fill("[data-global=deadline_h]", "24")
        add_task = "#builder-tree [data-path=graph] > .actions [data-add=task]"
        user.click(add_task)
        user.click(add_task)
        first, second = "[data-path='graph/sequence/0']", "[data-path='graph/sequence/1']"
        user.fill(f"{first} [data-field=id]", "mill")
        user.select_option(f"{first} select[data-field=capability]", "milling")
        user.fill(f"{first} [data-field=max_price]", "100")
        user.fill(f"{second} [data-field=id]", "Inspect!")
        user.select_option(f"{second} select[data-field=capability]", "quality_inspection")
        user.click("#plan-submit")
        # refused: the problem is listed, the builder shows the sent graph again with the culprit marked
        expect(user.locator("#builder-errors")).to_contain_text("graph/sequence/1/task/id")
        expect(user.locator(f"{second}.has-error")).to_have_count(1)
        expect(user.locator(f"{first}.has-error")).to_have_count(0)
        user.screenshot(path=str(artifacts / "portal-system-builder.png"), full_page=True)
        user.fill(f"{second} [data-field=id]", "inspect")
        doc = json.loads(user.input_value("#builder-json"))
        assert doc == {
            "name": "Bracket job",
            "graph": {
                "sequence": [
                    {"task": {"id": "mill", "capability": "milling", "constraints": {"max_price": 100}}},
                    {"task": {"id": "inspect", "capability": "quality_inspection"}},
                ]
            },
            "constraints": {"deadline_h": 24, "budget": 500, "currency": "EUR"},
        }
        user.click("#plan-submit")

        # the plan: the chosen services and why, the timetable and the forecast
        # planning solves, schedules and simulates: give a busy machine time
        expect(user.locator("#plan-status")).to_have_text("optimal", timeout=30_000)
        expect(user.locator("#plan-choice tr[data-task=mill]")).to_contain_text("Milling M1")
        expect(user.locator("#plan-choice tr[data-task=inspect]")).to_contain_text("Inspection I1")
        expect(user.locator("table.ranking[data-task=mill] tr.chosen")).to_contain_text("Milling M1")
        expect(user.locator("table.ranking[data-task=mill]")).to_contain_text("Milling slow")
        expect(user.locator("#gantt .gantt-row")).to_have_count(2)
        expect(user.locator("#forecast-deadline")).to_contain_text("%")
        user.screenshot(path=str(artifacts / "portal-system-plan.png"), full_page=True)
        user.click("#run-plan")
        expect(user.locator("#run-status")).to_have_text("running", timeout=15_000)
        expect(user.locator("tr[data-task=mill] .state")).to_have_text("dispatched")
        expect(user.locator("tr[data-task=inspect] .state")).to_have_text("pending")
        run_url = user.url

        # the provider works each task's order from its tasks page and the order page
        provider = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        login(provider, "provider")
        provider.click("nav >> text=Systems")
        provider.click("#provider-tasks")
        for key in ("mill", "inspect"):
            row = provider.locator(f"#provider-task-list tr[data-task={key}]")
            for _ in range(50):  # the next task is ordered once the run hears the last one is done
                if row.count():
                    break
                time.sleep(0.2)
                provider.reload()
            row.locator(".order-link").click()
            for target, status in (
                ("accepted", "accepted"),
                ("in_progress", "in_progress"),
                ("completed", "completed"),
            ):
                provider.click(f"#order-{target}")
                expect(provider.locator("#order-status")).to_have_text(status, timeout=10_000)
            provider.goto(f"{platform.base_url}/portal/systems/tasks")

        # the user's open run page follows on its own, then the user rates the milling
        expect(user.locator("#run-status")).to_have_text("completed", timeout=30_000)
        expect(user.locator("#run-progress-text")).to_have_text("2 of 2 done")
        expect(user.locator("tr[data-task=mill] .state")).to_have_text("done")
        rate = user.locator("tr[data-task=mill] form.rate")
        expect(rate).to_be_visible()
        rate.locator("select[name=stars]").select_option("4")
        rate.locator("input[name=comment]").fill("on time, clean edges")
        rate.locator("button[type=submit]").click()
        expect(user.locator("tr[data-task=mill] .rated")).to_have_text("★★★★☆")
        assert user.url == run_url
        user.screenshot(path=str(artifacts / "portal-system-run.png"), full_page=True)

        # the provider's record now counts both executions and the rating
        provider.reload()
        expect(provider.locator("#provider-offers")).to_contain_text("Milling M1")
        expect(provider.locator("#provider-chart")).to_be_visible()
        browser.close()

    run_id = run_url.rsplit("/", 1)[-1]
    got = _api(platform, "user").get(f"/api/v1/runs/{run_id}").json()
    assert got["status"] == "completed"
    assert {t["key"]: t["rating"] for t in got["tasks"]}["mill"] == {
        "stars": 4,
        "comment": "on time, clean edges",
    }
