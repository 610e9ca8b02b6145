"""Device pages in Chromium on a real ``iplus up``: list, live chart, twin over SSE, command form."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.access.conftest import ROOM_MODEL
from tests.e2e.conftest import Running
from tests.e2e.test_up_browser_fuzz import CHROMIUM, CHROMIUM_ARGS


def _api(platform: Running) -> tuple[httpx.Client, str]:
    email, password = platform.logins["operator"]
    client = httpx.Client(base_url=platform.base_url, timeout=10)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()[
        "access_token"
    ]
    client.headers["Authorization"] = f"Bearer {token}"
    return client, password


RESPONDER = """
import asyncio, json, sys
import aiomqtt

async def run(port, token):
    async with aiomqtt.Client("127.0.0.1", port, username="room-1", password=token, identifier="room-1-e2e") as dev:
        await dev.subscribe("iplus/v1/devices/room-1/commands", qos=1)
        print("ready", flush=True)
        async for message in dev.messages:
            command = json.loads(message.payload)
            answer = {"id": command["id"], "status": "acknowledged"}
            await dev.publish("iplus/v1/devices/room-1/commands/ack", json.dumps(answer), qos=1)

asyncio.run(run(int(sys.argv[1]), sys.argv[2]))
"""


@pytest.mark.browser
def test_device_list_live_chart_twin_and_command(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    api, _ = _api(platform)
    assert (
        api.post("/api/v1/device-types", json={"name": "room", "thing_model": ROOM_MODEL}).status_code == 201
    )
    made = api.post(
        "/api/v1/devices/bulk",
        json={
            "devices": [
                {"type": "room", "id": "room-1", "name": "Boiler room", "tags": ["hvac"]},
                {"type": "room", "id": "room-2", "name": "Office", "tags": ["office"]},
            ]
        },
    ).json()
    token = made[0]["token"]
    dev = {"Authorization": f"Bearer {token}"}
    for i in range(30):
        r = api.post(
            "/api/v1/devices/room-1/telemetry",
            headers=dev,
            json={"temp": 20 + i / 10, "hum": 40 + i % 5, "mode": "eco"},
        )
        assert r.status_code == 200, r.text
    broker_line = next(line for line in platform.lines if line.startswith("broker: "))
    port = int(re.search(r"mqtt://127\.0\.0\.1:(\d+)", broker_line).group(1))  # type: ignore[union-attr]
    # a device that acknowledges every command, in a process of its own
    responder = subprocess.Popen(
        [sys.executable, "-c", RESPONDER, str(port), token],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert responder.stdout is not None
    first = responder.stdout.readline().strip()
    assert first == "ready", first + responder.stdout.read()

    email, password = platform.logins["operator"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{platform.base_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{platform.base_url}/portal/devices")
        rows = page.locator("#device-table tbody tr")
        expect(rows).to_have_count(2)
        assert "online" in rows.nth(0).inner_text() and "offline" in rows.nth(1).inner_text()
        page.select_option("select[name=state]", "offline")
        page.click("form.filters button")
        expect(page.locator("#device-table tbody tr")).to_have_count(1)
        page.screenshot(path=str(artifacts / "portal-devices.png"), full_page=True)

        page.goto(f"{platform.base_url}/portal/devices/room-1")
        expect(page.locator("#live-state")).to_have_text("live", timeout=10_000)
        expect(page.locator(".chart canvas")).to_have_count(3)  # temp, hum, count
        api.post("/api/v1/devices/room-1/telemetry", headers=dev, json={"temp": 31.25})
        expect(page.locator('#twin tr[data-key="temp"] .reported')).to_have_text("31.25", timeout=5_000)
        page.fill("input[name=input]", '"comfort"')
        page.select_option("select[name=action]", "setMode")
        page.click("#commands button[type=submit]")
        expect(page.locator("#command-table tbody tr").first.locator(".status")).to_have_text(
            "acknowledged", timeout=10_000
        )
        page.screenshot(path=str(artifacts / "portal-device.png"), full_page=True)
        browser.close()
    responder.terminate()
    responder.wait(5)
