"""MQTT in and out: mosquitto_pub readings reach store and twin; wrong tokens and foreign topics refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import aiomqtt
import httpx
import pytest

from iplus.app import build_asgi
from iplus.config import Settings
from iplus.infra.telemetry import Selection
from tests.access.conftest import Platform, started
from tests.api.helpers import tenant

ROOM = Path(__file__).parent / "conftest.py"


def pub(
    port: int, topic: str, payload: object, user: str | None = None, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Publish once with mosquitto_pub at QoS 1."""
    cmd = [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-q",
        "1",
        "-t",
        topic,
        "-m",
        json.dumps(payload),
        "-i",
        f"pub-{time.monotonic_ns()}",
    ]
    if user is not None:
        cmd += ["-u", user, "-P", password or ""]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10)


async def until(check, within: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)


async def test_embedded_broker_reading_lands_within_a_second(platform: Platform) -> None:
    ctx, a = platform.ctx, platform.a
    token = await platform.device(a, "room-1")
    other = await platform.device(a, "room-2")
    _, port = ctx.broker.address
    start = time.monotonic()
    result = await asyncio.to_thread(
        pub, port, "iplus/v1/devices/room-1/telemetry", {"temp": 23.5, "msg_id": "x1"}, "room-1", token
    )
    assert result.returncode == 0, result.stderr

    async def stored() -> object:
        return await ctx.telemetry.latest(Selection(a.org_id, ["room-1"], ["temp"]))

    rows = await until(stored)
    assert rows and rows[0].value == 23.5 and time.monotonic() - start < 1.0  # type: ignore[index]
    state = (await platform.client.get("/api/v1/devices/room-1/state", headers=a.auth)).json()
    assert state["reported"]["temp"]["value"] == 23.5
    # a wrong token is refused at CONNECT
    refused = await asyncio.to_thread(
        pub, port, "iplus/v1/devices/room-1/telemetry", {"temp": 1}, "room-1", "idt_wrong"
    )
    assert refused.returncode != 0 and "not authori" in refused.stderr.lower()
    anonymous = await asyncio.to_thread(pub, port, "iplus/v1/devices/room-1/telemetry", {"temp": 1})
    assert anonymous.returncode != 0
    # room-2 may not publish as room-1: the broker drops it, nothing is stored
    await asyncio.to_thread(pub, port, "iplus/v1/devices/room-1/telemetry", {"temp": 99.0}, "room-2", other)
    await asyncio.sleep(0.5)
    rows = await ctx.telemetry.readings(Selection(a.org_id, ["room-1"], ["temp"]))
    assert [r.value for r in rows] == [23.5]


async def test_resend_is_stored_once_and_bad_payloads_become_dead_letters(platform: Platform) -> None:
    ctx, a = platform.ctx, platform.a
    token = await platform.device(a, "room-1")
    _, port = ctx.broker.address
    for _ in range(3):
        assert (
            await asyncio.to_thread(
                pub,
                port,
                "iplus/v1/devices/room-1/telemetry",
                {"temp": 20.0, "msg_id": "same"},
                "room-1",
                token,
            )
        ).returncode == 0
    await asyncio.to_thread(
        pub, port, "iplus/v1/devices/room-1/telemetry", {"temp": 300, "colour": "red"}, "room-1", token
    )

    async def letters() -> list[dict[str, object]]:
        return list((await platform.client.get("/api/v1/dead-letters", headers=a.auth)).json())

    dead = await until(letters, 2.0)
    assert dead and dead[0]["device_id"] == "room-1" and dead[0]["channel"] == "mqtt"
    assert any("above the maximum" in r for r in dead[0]["reasons"]) and any(
        "colour" in r for r in dead[0]["reasons"]
    )
    rows = await ctx.telemetry.readings(Selection(a.org_id, ["room-1"], ["temp"]))
    assert [r.value for r in rows] == [20.0]
    assert (await platform.client.get("/api/v1/dead-letters", headers=platform.b.auth)).json() == []


async def test_command_round_trip_and_timeout(platform: Platform) -> None:
    ctx, a, c = platform.ctx, platform.a, platform.client
    token = await platform.device(a, "room-1")
    host, port = ctx.broker.address
    async with aiomqtt.Client(
        host, port, username="room-1", password=token, identifier="room-1-dev"
    ) as device:
        await device.subscribe("iplus/v1/devices/room-1/commands", qos=1)
        bad = await c.post(
            "/api/v1/devices/room-1/commands", headers=a.auth, json={"action": "setMode", "input": "turbo"}
        )
        assert bad.status_code == 422
        unknown = await c.post("/api/v1/devices/room-1/commands", headers=a.auth, json={"action": "fly"})
        assert "its actions: reboot, setMode" in unknown.json()["detail"]
        sent = (
            await c.post(
                "/api/v1/devices/room-1/commands", headers=a.auth, json={"action": "setMode", "input": "eco"}
            )
        ).json()
        assert sent["status"] == "delivered"
        message = await asyncio.wait_for(anext(aiter(device.messages)), 2)
        command = json.loads(message.payload)  # type: ignore[arg-type]
        assert command == {"id": sent["id"], "action": "setMode", "input": "eco"}
        await device.publish(
            "iplus/v1/devices/room-1/commands/ack",
            json.dumps({"id": sent["id"], "status": "acknowledged", "output": {"mode": "eco"}}),
            qos=1,
        )

        async def acked() -> bool:
            return (await c.get(f"/api/v1/commands/{sent['id']}", headers=a.auth)).json()[
                "status"
            ] == "acknowledged"

        assert await until(acked, 2.0)
        refused = (
            await c.post("/api/v1/devices/room-1/commands", headers=a.auth, json={"action": "reboot"})
        ).json()
        await asyncio.wait_for(anext(aiter(device.messages)), 2)
        answer = {"id": refused["id"], "status": "failed", "detail": "battery too low"}
        await device.publish("iplus/v1/devices/room-1/commands/ack", json.dumps(answer), qos=1)

        async def failed() -> bool:
            body = (await c.get(f"/api/v1/commands/{refused['id']}", headers=a.auth)).json()
            return bool(body["status"] == "failed" and body["detail"] == "battery too low")

        assert await until(failed, 2.0)
        quiet = (
            await c.post(
                "/api/v1/devices/room-1/commands", headers=a.auth, json={"action": "reboot", "timeout_s": 1}
            )
        ).json()

        async def timed_out() -> bool:
            return (await c.get(f"/api/v1/commands/{quiet['id']}", headers=a.auth)).json()[
                "status"
            ] == "timed_out"

        assert await until(timed_out, 4.0)


async def test_external_mosquitto_ingest(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", broker_url="mqtt://127.0.0.1:1883")
    ctx = await started(settings)
    try:
        transport = httpx.ASGITransport(app=build_asgi(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            a = await tenant(ctx, client, "Ext", ["user"])
            from tests.access.conftest import ROOM_MODEL

            await client.post(
                "/api/v1/device-types", headers=a.auth, json={"name": "room", "thing_model": ROOM_MODEL}
            )
            device_id = f"ext-{time.monotonic_ns()}"
            token = (
                await client.post("/api/v1/devices", headers=a.auth, json={"type": "room", "id": device_id})
            ).json()["token"]
            start = time.monotonic()
            result = await asyncio.to_thread(
                pub, 1883, f"iplus/v1/devices/{device_id}/telemetry", {"temp": 18.25}, device_id, token
            )
            assert result.returncode == 0, result.stderr

            async def stored() -> object:
                return await ctx.telemetry.latest(Selection(a.org_id, [device_id], ["temp"]))

            rows = await until(stored)
            assert rows and rows[0].value == 18.25 and time.monotonic() - start < 1.0  # type: ignore[index]
    finally:
        await ctx.stop()


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"temp": "hot"}'])
async def test_broken_payloads_never_store_half(platform: Platform, payload: bytes) -> None:
    ctx, a = platform.ctx, platform.a
    token = await platform.device(a, "room-9")
    host, port = ctx.broker.address
    async with aiomqtt.Client(
        host, port, username="room-9", password=token, identifier="room-9-dev"
    ) as device:
        await device.publish("iplus/v1/devices/room-9/telemetry", payload, qos=1)

    async def letters() -> list[object]:
        return list(
            (
                await platform.client.get(
                    "/api/v1/dead-letters", headers=a.auth, params={"device_id": "room-9"}
                )
            ).json()
        )

    assert await until(letters, 2.0)
    assert await ctx.telemetry.readings(Selection(a.org_id, ["room-9"])) == []
