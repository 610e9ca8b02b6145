"""End to end on a real ``iplus up``: the printed address and logins, each role in Chromium, API fuzzing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Running

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_up_prints_address_logins_and_which_broker(platform: Running) -> None:
    text = "\n".join(platform.lines)
    assert f"iplus is serving the portal at {platform.base_url}/" in text
    broker = next(line for line in platform.lines if line.startswith("broker: "))
    # 1883 is held by another broker, so the embedded one says where it went instead
    assert "embedded amqtt broker on mqtt://127.0.0.1:" in broker
    assert "port 1883 is taken by another process" in broker
    assert set(platform.logins) == {"operator", "provider", "user"}
    health = httpx.get(f"{platform.base_url}/api/v1/health", timeout=30).json()
    assert health["ready"] is True, health
    assert {b["backend"] for b in health["backends"].values()} == {"sqlite", "duckdb", "amqtt", "local"}


def test_first_logins_work_over_the_api(platform: Running) -> None:
    for role, (email, password) in platform.logins.items():
        r = httpx.post(
            f"{platform.base_url}/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert r.status_code == 200, r.text
        me = httpx.get(
            f"{platform.base_url}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {r.json()['access_token']}"},
        )
        assert me.json()["roles"] == [role]


@pytest.mark.browser
def test_each_role_logs_in_and_sees_its_home(platform: Running, artifacts: Path) -> None:
    from playwright.sync_api import sync_playwright

    titles = {"operator": "Platform operator", "provider": "Service provider", "user": "Service user"}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for role, (email, password) in platform.logins.items():
                page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
                page.goto(f"{platform.base_url}/portal/{role}")
                assert "/login" in page.url  # not logged in yet
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                page.wait_for_url(f"**/portal/{role}")
                assert page.locator("h1").inner_text() == titles[role]
                nav = page.locator("nav").inner_text()
                assert titles[role] in nav and "Organisation" in nav
                page.screenshot(path=str(artifacts / f"portal-{role}-home.png"), full_page=True)
                page.click("text=Log out")
                page.wait_for_url("**/login")
                page.context.close()
            # a wrong password shows the reason on the page
            page = browser.new_page()
            page.goto(f"{platform.base_url}/login")
            page.fill("input[name=email]", platform.logins["user"][0])
            page.fill("input[name=password]", "not-the-password")
            page.click("button[type=submit]")
            assert page.locator("[role=alert]").inner_text() == "wrong e-mail or password"
            page.screenshot(path=str(artifacts / "portal-login-error.png"))
        finally:
            browser.close()


def test_schemathesis_finds_no_server_error(platform: Running, artifacts: Path) -> None:
    email, password = platform.logins["operator"]
    token = httpx.post(
        f"{platform.base_url}/api/v1/auth/token", data={"username": email, "password": password}
    ).json()["access_token"]
    st = Path(sys.executable).parent / "st"
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{platform.base_url}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error",
            "-H",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "5",  # about 200 operations, each with its coverage cases: a 500 shows up, the suite stays short
            "--seed",
            "20261128",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(artifacts / "schemathesis-junit.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    (artifacts / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout
