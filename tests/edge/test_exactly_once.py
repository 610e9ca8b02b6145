"""The key property: readings reach the platform exactly once, in order, through outages and lost answers."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from functools import partial
from pathlib import Path

from iplus.access.edge import EdgeAgent, Reading
from tests.edge.conftest import eventually, make_config
from tests.edge.platform_server import PlatformServer

N = 100_000
DEVICES = 4
CHUNK = 500


def assert_exactly_once_in_order(platform: PlatformServer, expected: int) -> None:
    stored = platform.stored
    ns = [m["values"]["n"] for m in stored]
    assert len(ns) == expected, f"{len(ns)} stored, {expected} expected"
    assert sorted(ns) == list(range(expected))  # each exactly once
    for d in range(DEVICES):
        mine = [m["values"]["n"] for m in stored if m["device_id"] == f"dev-{d}"]
        assert mine == sorted(mine), f"dev-{d} out of order"
    seqs = [int(m["msg_id"].rsplit("-", 1)[1]) for m in stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # the whole stream kept queue order


def batch(start: int, t0: float) -> list[Reading]:
    return [
        Reading(f"dev-{i % DEVICES}", t0 + i / 1000, {"n": i, "v": i * 0.5})
        for i in range(start, start + CHUNK)
    ]


async def test_100k_readings_through_three_outages_and_a_lost_answer_arrive_exactly_once_in_order(
    tmp_path: Path, platform: PlatformServer
) -> None:
    config = make_config(
        tmp_path,
        platform.base_url,
        forward={"batch_size": 2000, "backoff_initial_s": 0.05, "backoff_max_s": 0.25},
    )
    started = time.monotonic()
    peak_queue_in_outage = 0

    async def produce(agent: EdgeAgent) -> None:
        t0 = time.time()
        for start in range(0, N, CHUNK):
            await agent.ingest_many(batch(start, t0))
            await asyncio.sleep(0.003)  # a steady stream rather than one burst

    def reached(n: int) -> bool:
        return platform.count >= n

    async def cut_the_uplink(agent: EdgeAgent) -> None:
        nonlocal peak_queue_in_outage
        for threshold in (12_000, 40_000, 65_000):
            await eventually(partial(reached, threshold), 60)
            await asyncio.to_thread(platform.stop)  # connections are refused now
            for _ in range(60):
                await asyncio.sleep(0.01)
                peak_queue_in_outage = max(peak_queue_in_outage, agent.stats.queued)
            await asyncio.to_thread(platform.start)
        await eventually(lambda: platform.count >= 85_000, 60)
        platform.drop_answers = 1  # the next batch is stored but its answer never comes

    async with EdgeAgent(config, sources=[]) as agent:
        async with asyncio.timeout(90):
            await asyncio.gather(produce(agent), cut_the_uplink(agent))
            await agent.drain()
        stats = agent.stats
        left = await agent.inspect(lambda b: b.queued())

    assert platform.outages == 3 and platform.dropped == 1
    assert platform.duplicates > 0  # the resent batch after the lost answer was de-duplicated
    assert stats.retries >= 4 and stats.forwarded >= N and stats.queued == 0 and left == 0
    assert peak_queue_in_outage > 0  # readings kept coming in while the platform was away
    assert_exactly_once_in_order(platform, N)
    with closing(sqlite3.connect(config.buffer.path)) as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
    print(
        f"\n100k readings, 3 outages, 1 lost answer: {time.monotonic() - started:.1f} s, {stats.retries} retries"
    )
