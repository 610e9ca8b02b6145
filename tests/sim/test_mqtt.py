"""End to end against the real Mosquitto at 127.0.0.1:1883: every message not dropped by design arrives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import numpy as np
import pytest

from iplus.access.sim import (
    Device,
    MqttTransport,
    RunOptions,
    generate_devices,
    parse_profile,
    simulate,
    topic_of,
)

BROKER = ("127.0.0.1", 1883)
PROFILE = {
    "name": "e2e",
    "dropout": {"fraction": 0.1},
    "properties": {
        "temperature": {
            "unit": "Cel",
            "decimals": 2,
            "signal": [{"kind": "daily", "mean": 21, "amplitude": 2}, {"kind": "noise", "sigma": 0.2}],
        },
        "occupants": {
            "integer": True,
            "signal": [{"kind": "random_walk", "sigma_h": 2, "initial": 2, "low": 0, "high": 9}],
        },
        "door": {"states": ["closed", "open"], "dwell_s": [20, 5]},
        "alarm": {"states": [False, True], "dwell_s": [30, 5]},
    },
}
KINDS: dict[str, Callable[[Any], bool]] = {
    "temperature": lambda v: isinstance(v, float),
    "occupants": lambda v: type(v) is int,
    "door": lambda v: v in ("closed", "open"),
    "alarm": lambda v: type(v) is bool,
}


class Subscriber:
    """An aiomqtt subscriber to the given device topics, keeping (device, payload, arrival time)."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.received: list[tuple[str, bytes, float]] = []
        self.arrived = asyncio.Event()

    async def collect(self) -> None:
        async for message in self.client.messages:
            device = str(message.topic).split("/")[3]
            assert isinstance(message.payload, bytes)
            self.received.append((device, message.payload, time.monotonic()))
            self.arrived.set()

    async def wait_for(self, n: int, within: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):  # the caller's count assertion tells what is missing
            async with asyncio.timeout(within):
                while len(self.received) < n:
                    self.arrived.clear()
                    await self.arrived.wait()
        await asyncio.sleep(0.2)  # anything beyond n would be a duplicate: give it a chance to show


@pytest.fixture
async def subscribe() -> AsyncIterator[Callable[[list[Device]], Any]]:
    tasks: list[asyncio.Task[None]] = []
    clients: list[aiomqtt.Client] = []

    async def start(devices: list[Device]) -> Subscriber:
        client = aiomqtt.Client(*BROKER, identifier=f"test-sub-{uuid.uuid4().hex[:8]}")
        await client.__aenter__()
        clients.append(client)
        for device in devices:
            await client.subscribe(topic_of(device.device_id), qos=1)
        subscriber = Subscriber(client)
        tasks.append(asyncio.create_task(subscriber.collect()))
        return subscriber

    yield start
    for task in tasks:
        task.cancel()
    for client in clients:
        await client.__aexit__(None, None, None)


def unique_devices(n: int) -> list[Device]:
    return generate_devices(n, prefix=f"e2e{uuid.uuid4().hex[:8]}-", token="device-token")


def expected_ids(run_id: str, n_devices: int, per_device: int, seed: int) -> dict[int, set[str]]:
    """Per device index, the messages a fraction-only dropout keeps, from the profile's own seeded streams."""
    profile = parse_profile(PROFILE)
    out: dict[int, set[str]] = {}
    for d in range(n_devices):
        keep = profile.signals(seed, d, 0.0).keep(np.zeros(per_device))
        out[d] = {f"{run_id}-{j}" for j in range(per_device) if keep[j]}
    return out


def decode_flat(device: str, payload: bytes) -> tuple[str, datetime, dict[str, Any]]:
    body = json.loads(payload)
    assert isinstance(body, dict) and set(body) == {*KINDS, "ts", "msg_id"}, body
    ts = datetime.fromisoformat(body.pop("ts"))
    assert ts.utcoffset() is not None and ts.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    msg_id = body.pop("msg_id")
    return msg_id, ts, body


def decode_senml(device: str, payload: bytes) -> tuple[None, datetime, dict[str, Any]]:
    """Resolve the pack by hand (RFC 8428 base name and base time), not with the platform's resolver."""
    pack = json.loads(payload)
    assert isinstance(pack, list) and pack
    assert pack[0]["bn"] == f"{device}:" and isinstance(pack[0]["bt"], float | int)
    base_time = pack[0]["bt"]
    values: dict[str, Any] = {}
    for record in pack:
        assert record.get("bn", f"{device}:") == f"{device}:"
        fields = [k for k in ("v", "vs", "vb") if k in record]
        assert len(fields) == 1, record
        values[record["n"]] = record[fields[0]]
        if record["n"] == "temperature":
            assert record["u"] == "Cel"
    return None, datetime.fromtimestamp(base_time, UTC), values


@pytest.mark.parametrize("senml", [False, True], ids=["flat-json", "senml"])
async def test_every_message_not_dropped_arrives_well_formed(
    subscribe: Callable[[list[Device]], Any], senml: bool
) -> None:
    devices, per_device, seed, run_id = unique_devices(5), 80, 3, f"r{uuid.uuid4().hex[:6]}"
    subscriber = await subscribe(devices)
    started = datetime.now(UTC)
    options = RunOptions(rate=200, count=len(devices) * per_device, seed=seed, run_id=run_id)
    stats = await simulate(
        devices, parse_profile(PROFILE), MqttTransport("mqtt://127.0.0.1:1883", qos=1, senml=senml), options
    )
    expected = expected_ids(run_id, len(devices), per_device, seed)
    n_expected = sum(len(ids) for ids in expected.values())
    assert stats.failed == 0 and stats.sent == n_expected and stats.dropped == 400 - n_expected
    assert 0 < stats.dropped < 80  # about 10 %
    await subscriber.wait_for(n_expected)
    assert len(subscriber.received) == n_expected
    by_device: dict[str, list[str]] = {d.device_id: [] for d in devices}
    per_device_count: dict[str, int] = dict.fromkeys(by_device, 0)
    for device, payload, _ in subscriber.received:
        msg_id, ts, values = (decode_senml if senml else decode_flat)(device, payload)
        assert set(values) == set(KINDS) and all(KINDS[k](v) for k, v in values.items()), values
        assert started.timestamp() - 1 <= ts.timestamp() <= time.time() + 1
        per_device_count[device] += 1
        if msg_id is not None:
            by_device[device].append(msg_id)
    for index, device in enumerate(devices):
        assert per_device_count[device.device_id] == len(expected[index])
        if not senml:  # flat JSON carries the message id: exactly the kept ones, in order, once each
            ids = by_device[device.device_id]
            assert set(ids) == expected[index] and len(ids) == len(set(ids))
            assert ids == sorted(ids, key=lambda m: int(m.rsplit("-", 1)[1]))


async def test_mqtt_rate_measured_at_the_subscriber(subscribe: Callable[[list[Device]], Any]) -> None:
    devices = unique_devices(10)
    subscriber = await subscribe(devices)
    profile = parse_profile({"name": "plain", "properties": {"x": {"signal": [{"kind": "noise"}]}}})
    stats = await simulate(
        devices, profile, MqttTransport("mqtt://127.0.0.1:1883", qos=1), RunOptions(rate=500, duration_s=3.0)
    )
    await subscriber.wait_for(stats.sent, within=30.0)
    assert stats.failed == 0 and len(subscriber.received) == stats.sent == 1500
    # the slope of arrivals over time: one late first or last arrival does not skew it as (n - 1) / span would
    times = np.array([t for _, _, t in subscriber.received])
    measured = np.polyfit(times - times[0], np.arange(times.size), 1)[0]
    assert measured == pytest.approx(500, rel=0.1)
    assert stats.achieved_rate == pytest.approx(500, rel=0.1)


async def test_refused_connections_are_counted_not_raised() -> None:
    transport = MqttTransport("mqtt://127.0.0.1:1", qos=1, timeout=2.0)  # nothing listens on port 1
    profile = parse_profile({"name": "plain", "properties": {"x": {"signal": [{"kind": "noise"}]}}})
    stats = await simulate(unique_devices(2), profile, transport, RunOptions(rate=100, count=10))
    assert stats.sent == 0 and stats.failed == 10 and set(stats.failures) == {"mqtt connect"}
