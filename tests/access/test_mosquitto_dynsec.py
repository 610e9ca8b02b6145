"""External Mosquitto with the dynamic-security plugin kept in step with the registry."""

from __future__ import annotations

import asyncio
import getpass
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iplus.app import build_asgi
from iplus.config import Settings
from iplus.infra.telemetry import Selection
from tests.access.conftest import ROOM_MODEL, started
from tests.access.test_mqtt_ingest import pub, until
from tests.api.helpers import tenant

PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
ADMIN, ADMIN_PASSWORD = "iplus-admin", "admin-password-123"


@pytest.fixture
def dynsec_broker(tmp_path: Path) -> Iterator[int]:
    """A Mosquitto of our own on a free loopback port, anonymous off, dynamic security on."""
    if not PLUGIN.exists():
        pytest.fail(f"{PLUGIN} is missing: make test installs Debian's mosquitto package")
    config = tmp_path / "dynsec.json"
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(config), ADMIN, ADMIN_PASSWORD],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        # run as the current user: the files live in a private temporary folder
        f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous false\nlistener {port} 127.0.0.1\n"
        f"plugin {PLUGIN}\nplugin_opt_config_file {config}\npersistence false\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


async def test_devices_are_mosquitto_clients_limited_to_their_topics(
    dynsec_broker: int, tmp_path: Path
) -> None:
    port = dynsec_broker
    settings = Settings(
        var_dir=tmp_path / "var",
        broker_url=f"mqtt://{ADMIN}:{ADMIN_PASSWORD}@127.0.0.1:{port}",
        broker_dynsec=True,
    )
    ctx = await started(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_asgi(ctx)), base_url="http://t"
        ) as client:
            a = await tenant(ctx, client, "Ext", ["user"])
            await client.post(
                "/api/v1/device-types", headers=a.auth, json={"name": "room", "thing_model": ROOM_MODEL}
            )
            made = (
                await client.post(
                    "/api/v1/devices/bulk",
                    headers=a.auth,
                    json={"devices": [{"type": "room", "id": "d-1"}, {"type": "room", "id": "d-2"}]},
                )
            ).json()
            tokens = {d["id"]: d["token"] for d in made}
            ok = await asyncio.to_thread(
                pub, port, "iplus/v1/devices/d-1/telemetry", {"temp": 12.5}, "d-1", tokens["d-1"]
            )
            assert ok.returncode == 0, ok.stderr

            async def stored() -> object:
                return await ctx.telemetry.latest(Selection(a.org_id, ["d-1"], ["temp"]))

            assert await until(stored, 2.0)
            wrong = await asyncio.to_thread(
                pub, port, "iplus/v1/devices/d-1/telemetry", {"temp": 1}, "d-1", "idt_wrong"
            )
            assert wrong.returncode != 0 and "not authori" in wrong.stderr.lower()
            # d-2 publishing on d-1's topic: Mosquitto's ACL drops it
            await asyncio.to_thread(
                pub, port, "iplus/v1/devices/d-1/telemetry", {"temp": 99.0}, "d-2", tokens["d-2"]
            )
            await asyncio.sleep(0.5)
            assert [r.value for r in await ctx.telemetry.readings(Selection(a.org_id, ["d-1"]))] == [12.5]
            # a rotated token replaces the old one on the broker too
            new = (await client.post("/api/v1/devices/d-1/token", headers=a.auth)).json()["token"]
            old = await asyncio.to_thread(
                pub, port, "iplus/v1/devices/d-1/telemetry", {"temp": 2}, "d-1", tokens["d-1"]
            )
            assert old.returncode != 0
            again = await asyncio.to_thread(
                pub, port, "iplus/v1/devices/d-1/telemetry", {"temp": 13.5}, "d-1", new
            )
            assert again.returncode == 0
    finally:
        await ctx.stop()
