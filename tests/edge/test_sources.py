"""Local sources: the loopback HTTP input, the generator, and MQTT through the real Mosquitto at 1883."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiomqtt
import httpx
import orjson
import pytest

from iplus.access.edge import EdgeAgent, Reading
from iplus.access.edge.config import GeneratorConfig, HttpSourceConfig, MqttBrokerConfig, MqttSourceConfig
from iplus.access.edge.generator import GeneratorSource
from iplus.access.edge.http_input import HttpSource
from iplus.access.edge.mqtt import MqttSource
from tests.edge.conftest import MemoryUplink, eventually, make_config

BROKER = MqttBrokerConfig(host="127.0.0.1", port=1883)


async def wait_for(event: asyncio.Event, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        await event.wait()


async def drained(agent: EdgeAgent) -> None:
    async with asyncio.timeout(10):
        await agent.drain()


async def test_http_input_takes_one_reading_or_a_list_and_answers_after_the_commit(tmp_path: Path) -> None:
    source = HttpSource(HttpSourceConfig(port=0))
    up = MemoryUplink()
    async with EdgeAgent(make_config(tmp_path, "http://127.0.0.1:1"), uplink=up, sources=[source]) as agent:
        await wait_for(source.ready)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{source.port}") as client:
            one = await client.post("/telemetry/pump-1", json={"pressure": 2.5, "ts": "2024-05-01T12:00:00Z"})
            assert one.status_code == 202 and one.json() == {"accepted": 1}
            assert agent.stats.received == 1  # on disk before the answer
            many = await client.post(
                "/telemetry/pump-2", json=[{"on": True, "ts": 1714564800}, {"on": False}]
            )
            assert many.status_code == 202 and many.json() == {"accepted": 2}
            bad = await client.post("/telemetry/pump-1", content=b"{not json")
            assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
            naive = await client.post("/telemetry/pump-1", json={"p": 1, "ts": "2024-05-01T12:00:00"})
            assert naive.status_code == 422 and "no UTC offset" in naive.json()["detail"]
            nested = await client.post("/telemetry/pump-1", json={"p": {"x": 1}})
            assert nested.status_code == 422
            huge = await client.post("/telemetry/pump-1", content=b"[" + b'{"p":1},' * 200_000 + b'{"p":1}]')
            assert huge.status_code == 413
        await drained(agent)
    assert [(m.device_id, m.ts, dict(m.values)) for m in up.messages[:2]] == [
        ("pump-1", "2024-05-01T12:00:00.000000+00:00", {"pressure": 2.5}),
        ("pump-2", "2024-05-01T12:00:00.000000+00:00", {"on": True}),
    ]
    assert len(up.messages) == 3


def test_generator_is_deterministic_sine_plus_noise() -> None:
    config = GeneratorConfig.model_validate(
        {
            "seed": 1,
            "step_s": 15,
            "signals": [
                {"device": "s", "property": "a", "offset": 10, "amplitude": 2, "period_s": 60},
                {"device": "s", "property": "b", "noise": 0.5},
            ],
        }
    )
    gen = GeneratorSource(config)
    readings = [gen.readings_at(i, 1000.0) for i in range(3)]
    # a: 10 + 2 sin(2 pi t / 60) at t = 0, 15, 30 -> 10, 12, 10
    assert [r[0].values["a"] for r in readings] == [10.0, 12.0, 10.0]
    assert [r[0].ts for r in readings] == [1000.0, 1015.0, 1030.0]
    assert readings == [
        GeneratorSource(config).readings_at(i, 1000.0) for i in range(3)
    ]  # same seed, same noise
    other = GeneratorSource(config.model_copy(update={"seed": 2})).readings_at(1, 1000.0)
    assert other[0].values["b"] != readings[1][0].values["b"]


async def test_generator_runs_through_the_agent(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        "http://127.0.0.1:1",
        sources={
            "generator": {
                "interval_s": 0,
                "count": 20,
                "signals": [{"device": "g1", "property": "x"}, {"device": "g2", "property": "y"}],
            }
        },
    )
    up = MemoryUplink()
    async with EdgeAgent(config, uplink=up) as agent:
        await agent.sources_done()
        await drained(agent)
    assert len(up.messages) == 40 and {m.device_id for m in up.messages} == {"g1", "g2"}


def prefix() -> str:
    return f"iplus-edge-test-{uuid.uuid4().hex[:10]}"


async def publish(topic: str, payloads: list[bytes], qos: int = 1) -> None:
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=qos)


async def test_mqtt_source_ingests_from_the_local_broker(tmp_path: Path) -> None:
    p = prefix()
    source = MqttSource(
        BROKER,
        MqttSourceConfig(topic=f"{p}/iplus/v1/devices/+/telemetry", persistent_session=False),
        client_id=p,
    )
    up = MemoryUplink()
    async with EdgeAgent(make_config(tmp_path, "http://127.0.0.1:1"), uplink=up, sources=[source]) as agent:
        await wait_for(source.ready)
        for dev in ("m1", "m2"):
            await publish(
                f"{p}/iplus/v1/devices/{dev}/telemetry",
                [orjson.dumps({"n": i, "msg_id": f"{dev}-{i}"}) for i in range(100)],
            )
        await publish(
            f"{p}/iplus/v1/devices/m1/telemetry", [orjson.dumps({"n": 5, "msg_id": "m1-5"}), b"nonsense"]
        )
        await eventually(lambda: agent.stats.received + agent.stats.repeats + agent.stats.rejected >= 202)
        await drained(agent)
        dead = await agent.inspect(lambda b: b.dead_letters())
    for dev in ("m1", "m2"):
        assert [m.values["n"] for m in up.messages if m.device_id == dev] == list(range(100))
    assert agent.stats.repeats == 1  # the resent m1-5 was recognised by its msg_id
    assert isinstance(dead, list) and len(dead) == 1
    assert dead[0]["device_id"] == "m1" and "not JSON" in str(dead[0]["reason"])


async def test_mqtt_persistent_session_keeps_readings_published_while_the_agent_is_down(
    tmp_path: Path,
) -> None:
    p = prefix()
    topic = f"{p}/iplus/v1/devices/+/telemetry"
    config = make_config(tmp_path, "http://127.0.0.1:1")
    up = MemoryUplink()

    def source() -> MqttSource:
        return MqttSource(BROKER, MqttSourceConfig(topic=topic), client_id=p)

    try:
        first = source()
        async with EdgeAgent(config, uplink=up, sources=[first]):
            await wait_for(first.ready)  # the broker now knows the session and its subscription
        await publish(f"{p}/iplus/v1/devices/late/telemetry", [orjson.dumps({"n": i}) for i in range(30)])
        second = source()
        async with EdgeAgent(config, uplink=up, sources=[second]) as agent:
            await eventually(lambda: agent.stats.received >= 30)
            await drained(agent)
        assert [m.values["n"] for m in up.messages] == list(range(30))
    finally:
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=p, clean_session=True):
            pass  # leave no session behind on the shared broker


async def test_local_alarm_raises_and_clears_without_the_cloud_and_publishes_a_command(
    tmp_path: Path,
) -> None:
    p = prefix()
    device = {
        "id": "boiler-1",
        "alarms": [
            {
                "name": "overheat",
                "property": "temp",
                "op": ">",
                "threshold": 90,
                "hysteresis": 5,
                "publish": {"topic": f"{p}/{{device_id}}/commands", "on_raise": {"action": "burner_off"}},
            }
        ],
    }
    config = make_config(tmp_path, "http://127.0.0.1:1", devices=[device])
    up = MemoryUplink()
    async with aiomqtt.Client("127.0.0.1", 1883) as listener:
        await listener.subscribe(f"{p}/boiler-1/commands", qos=1)
        async with EdgeAgent(config, uplink=up, sources=[]) as agent:
            for i, t in enumerate([80, 91, 93, 86, 85, 70]):
                await agent.ingest(_reading(i, t))
            commands = []
            async with asyncio.timeout(10):
                async for message in listener.messages:
                    commands.append(orjson.loads(message.payload))
                    if len(commands) == 2:
                        break
            await drained(agent)
            events = await agent.inspect(lambda b: b.alarm_events())
            states = await agent.inspect(lambda b: b.alarm_states())
    assert [(c["active"], c["value"], c.get("command")) for c in commands] == [
        (True, 91, {"action": "burner_off"}),
        (False, 85, None),
    ]
    assert isinstance(events, list) and [(e.active, e.value) for e in events] == [(True, 91), (False, 85)]
    assert states == {("boiler-1", "overheat"): False}
    alarm_values = [m.values["alarm.overheat"] for m in up.messages if "alarm.overheat" in m.values]
    assert alarm_values == [True, False]  # the platform learns of both
    assert agent.stats.alarm_events == 2


def _reading(i: int, temp: float) -> Reading:
    return Reading("boiler-1", 1_700_000_000 + i, {"temp": temp})


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_http_input_refuses_a_taken_port_in_one_line(tmp_path: Path, host: str) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as taken:
        try:
            taken.bind((host, 0))
        except OSError:
            pytest.skip(f"{host} not available")
        taken.listen()
        source = HttpSource(HttpSourceConfig(host=host, port=taken.getsockname()[1]))
        agent = EdgeAgent(
            make_config(tmp_path, "http://127.0.0.1:1"), uplink=MemoryUplink(), sources=[source]
        )
        await agent.start()
        with pytest.raises(OSError, match="HTTP input cannot listen"):
            async with asyncio.timeout(5):
                await agent.serve(asyncio.Event())
        await agent.stop()


async def test_mqtt_clean_stop_acknowledges_what_it_took_so_nothing_comes_twice(tmp_path: Path) -> None:
    p = prefix()
    topic = f"{p}/iplus/v1/devices/+/telemetry"
    config = make_config(tmp_path, "http://127.0.0.1:1")
    up = MemoryUplink()
    try:
        first = MqttSource(BROKER, MqttSourceConfig(topic=topic), client_id=p)
        async with EdgeAgent(config, uplink=up, sources=[first]) as agent:
            await wait_for(first.ready)
            # no msg_id: a redelivery could not be told apart, so only a PUBACK for each prevents one
            await publish(f"{p}/iplus/v1/devices/d/telemetry", [orjson.dumps({"n": i}) for i in range(2000)])
            await eventually(lambda: first.received >= 2000)
        second = MqttSource(BROKER, MqttSourceConfig(topic=topic), client_id=p)
        async with EdgeAgent(config, uplink=up, sources=[second]) as agent:
            await wait_for(second.ready)
            await asyncio.sleep(0.5)  # time for any redelivery to arrive
            assert second.received == 0
            await drained(agent)
        assert [m.values["n"] for m in up.messages] == list(range(2000))
    finally:
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=p, clean_session=True):
            pass
