"""Regressions from review: last-will impersonation, reserved device ids, implausible SenML times."""

from __future__ import annotations

import aiomqtt
import orjson
import pytest

from iplus.infra.telemetry import Selection
from tests.access.conftest import Platform
from tests.api.helpers import assert_problem


async def test_a_last_will_on_another_devices_topic_is_refused(platform: Platform) -> None:
    token = await platform.device(platform.a, "evil-1")
    await platform.device(platform.b, "victim-1")
    host, port = platform.ctx.broker.address
    will = aiomqtt.Will("iplus/v1/devices/victim-1/telemetry", orjson.dumps({"temp": 66.6}), qos=1)
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            host, port, username="evil-1", password=token, identifier="evil", will=will
        ):
            pass
    own = aiomqtt.Will("iplus/v1/devices/evil-1/telemetry", orjson.dumps({"temp": 1.0}), qos=1)
    async with aiomqtt.Client(host, port, username="evil-1", password=token, identifier="evil-2", will=own):
        pass  # a will on its own topic is fine
    assert await platform.ctx.telemetry.readings(Selection(platform.b.org_id, ["victim-1"])) == []


async def test_device_ids_starting_with_iplus_are_reserved(platform: Platform) -> None:
    r = await platform.client.post(
        "/api/v1/devices", headers=platform.a.auth, json={"type": "room", "id": "iplus-platform"}
    )
    assert "reserved" in " ".join(assert_problem(r, 422)["errors"])  # type: ignore[arg-type]


@pytest.mark.parametrize("bt", [1e13, 1e12, -1e12])
async def test_implausible_senml_times_are_refused_not_stored(platform: Platform, bt: float) -> None:
    token = await platform.device(platform.a, "room-1")
    r = await platform.client.post(
        "/api/v1/devices/room-1/telemetry",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/senml+json"},
        content=orjson.dumps([{"bn": "room-1:", "bt": bt, "n": "temp", "v": 20}]),
    )
    assert "not a plausible time" in assert_problem(r, 422)["errors"][0]["reasons"][0]  # type: ignore[index]
    assert (
        await platform.client.get("/api/v1/devices/room-1/state", headers=platform.a.auth)
    ).status_code == 200
