"""The forwarder: same batch on retry, dead letters for refused messages, smaller batches when asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from iplus.access.edge import EdgeAgent, OutboxMessage, PermanentUplinkError, Reading, RetryableUplinkError
from iplus.access.edge.forwarder import Backoff
from tests.edge.conftest import make_config
from tests.edge.platform_server import PlatformServer


class ScriptedUplink:
    """Raises the scripted errors in turn, then accepts; records every attempt."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts: list[list[str]] = []
        self.accepted: list[OutboxMessage] = []

    async def send(self, messages: Sequence[OutboxMessage]) -> None:
        self.attempts.append([m.msg_id for m in messages])
        if self.errors:
            raise self.errors.pop(0)
        self.accepted.extend(messages)


def readings(n: int, device: str = "d") -> list[Reading]:
    return [Reading(device, 1_700_000_000 + i, {"n": i}) for i in range(n)]


async def test_a_failed_batch_is_sent_again_unchanged(tmp_path: Path) -> None:
    up = ScriptedUplink(RetryableUplinkError("refused"), RetryableUplinkError("timeout"))
    async with EdgeAgent(make_config(tmp_path, "http://127.0.0.1:1"), uplink=up, sources=[]) as agent:
        await agent.ingest_many(readings(3))
        async with asyncio.timeout(10):
            await agent.drain()
        stats = agent.stats
    assert len(up.attempts) == 3 and up.attempts[0] == up.attempts[1] == up.attempts[2]
    assert [m.values["n"] for m in up.accepted] == [0, 1, 2]
    assert stats.retries == 2 and stats.uplink_up and stats.forwarded == 3 and stats.queued == 0


async def test_a_refused_batch_goes_to_the_dead_letters_and_forwarding_goes_on(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:1", forward={"batch_size": 2})
    up = ScriptedUplink(PermanentUplinkError("platform refused the batch (400): bad", 400))
    async with EdgeAgent(config, uplink=up, sources=[]) as agent:
        await agent.ingest_many(readings(5))
        async with asyncio.timeout(10):
            await agent.drain()
        dead = await agent.inspect(lambda b: b.dead_letters())
    assert [m.values["n"] for m in up.accepted] == [2, 3, 4]
    assert isinstance(dead, list) and [d["status"] for d in dead] == [400, 400]
    assert [d["msg_id"] for d in dead] == up.attempts[0]
    assert agent.stats.dead_lettered == 2


async def test_a_batch_too_large_is_halved(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:1", forward={"batch_size": 8})
    up = ScriptedUplink(PermanentUplinkError("too large", 413, too_large=True))
    async with EdgeAgent(config, uplink=up, sources=[]) as agent:
        await agent.ingest_many(readings(8))
        async with asyncio.timeout(10):
            await agent.drain()
    assert [len(a) for a in up.attempts] == [8, 4, 4]
    assert [m.values["n"] for m in up.accepted] == list(range(8))


async def test_messages_the_platform_names_are_dead_lettered_and_the_rest_delivered(
    tmp_path: Path, platform: PlatformServer
) -> None:
    platform.refused_devices.add("ghost")
    config = make_config(tmp_path, platform.base_url, forward={"batch_size": 50})
    mixed = [Reading("ghost" if i % 10 == 3 else "real", 1_700_000_000 + i, {"n": i}) for i in range(100)]
    async with EdgeAgent(config, sources=[]) as agent:
        await agent.ingest_many(mixed)
        async with asyncio.timeout(10):
            await agent.drain()
        dead = await agent.inspect(lambda b: b.dead_letters())
    assert [m["values"]["n"] for m in platform.stored] == [i for i in range(100) if i % 10 != 3]
    assert isinstance(dead, list) and len(dead) == 10
    assert {d["device_id"] for d in dead} == {"ghost"}
    assert {(d["status"], d["reason"]) for d in dead} == {(422, "unknown device ghost")}


def test_backoff_grows_to_the_maximum_and_resets() -> None:
    import random

    b = Backoff(1, 8, 2, rng=random.Random(1))
    delays = [b.delay() for _ in range(6)]
    assert all(0.8 * e <= d <= min(8, 1.2 * e) for d, e in zip(delays, [1, 2, 4, 8, 8, 8], strict=True))
    assert b.delay(at_least=30) == 8  # Retry-After is honoured up to the maximum
    b.reset()
    assert b.delay() <= 1.2
