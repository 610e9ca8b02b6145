"""The queue is on disk: a stopped or killed agent loses nothing it acknowledged, and sends nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from iplus.access.edge import EdgeAgent, Reading, SinkClosed
from tests.edge.conftest import eventually, make_config
from tests.edge.platform_server import API_KEY, PlatformServer

TOTAL = 6000


def reading(i: int) -> Reading:
    return Reading(f"dev-{i % 3}", 1_700_000_000 + i / 100, {"n": i})


async def test_queue_survives_an_agent_restart_mid_stream(tmp_path: Path, platform: PlatformServer) -> None:
    platform.stop()  # the uplink is down while the first agent runs
    config = make_config(tmp_path, platform.base_url)
    acked = 0

    async def produce(agent: EdgeAgent, start: int) -> None:
        nonlocal acked
        for i in range(start, TOTAL, 50):
            try:
                await agent.ingest_many([reading(j) for j in range(i, min(i + 50, TOTAL))])
            except SinkClosed:
                return  # not acknowledged: the producer keeps these and sends them to the next agent
            acked = min(i + 50, TOTAL)
            await asyncio.sleep(0)

    first = EdgeAgent(config, sources=[])
    await first.start()
    producer = asyncio.create_task(produce(first, 0))
    await eventually(lambda: acked >= 2000, every=0.001)
    await first.stop()  # mid-stream, with the uplink down
    await producer
    assert 2000 <= acked < TOTAL and platform.count == 0
    with closing(sqlite3.connect(config.buffer.path)) as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (acked,)

    platform.start()
    async with EdgeAgent(config, sources=[]) as second:
        assert second.stats.queued == acked  # picked up from the file
        await produce(second, acked)
        async with asyncio.timeout(30):
            await second.drain()
    assert acked == TOTAL
    ns = [m["values"]["n"] for m in platform.stored]
    assert ns == list(range(TOTAL))  # exactly once, and in order across the restart


def outbox(path: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT seq, device_id FROM outbox ORDER BY seq").fetchall()


def queued_so_far(path: Path) -> int:
    try:
        return len(outbox(path)) if path.exists() else 0
    except sqlite3.OperationalError:  # the agent is still creating the file
        return 0


async def test_a_killed_agent_process_loses_nothing_it_committed(
    tmp_path: Path, platform: PlatformServer
) -> None:
    platform.stop()
    config_path = tmp_path / "edge.toml"
    buffer = tmp_path / "buffer.db"
    config_path.write_text(
        f"""
[gateway]
id = "gw-kill"
[platform]
base_url = "{platform.base_url}"
api_key_env = "TEST_EDGE_KEY"
[buffer]
path = "buffer.db"
synchronous = "normal"
[forward]
backoff_initial_s = 0.05
backoff_max_s = 0.2
[sources.generator]
seed = 7
interval_s = 0
signals = [
  {{ device = "sim-a", property = "temp", offset = 20, amplitude = 5, period_s = 60, noise = 0.1 }},
  {{ device = "sim-b", property = "flow", offset = 3, amplitude = 1, period_s = 30 }},
]
"""
    )
    env = {**os.environ, "TEST_EDGE_KEY": API_KEY}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "iplus.cli.edge",
        "--config",
        str(config_path),
        "--status-every",
        "0.2",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(lambda: queued_so_far(buffer) >= 1000 or proc.returncode is not None, 30, 0.05)
        assert proc.returncode is None, "the agent exited early"
        await asyncio.sleep(0.5)  # let a status line come out
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown at all
        stdout, stderr = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert "edge gw-kill: queued" in stdout.decode() and "uplink down" in stdout.decode(), stderr.decode()

    committed = outbox(buffer)
    platform.start()
    config = make_config(
        tmp_path,
        platform.base_url,
        gateway={"id": "gw-kill"},
        buffer={"path": "buffer.db", "synchronous": "normal"},
    )
    async with EdgeAgent(config, sources=[]) as agent:
        async with asyncio.timeout(30):
            await agent.drain()
    assert platform.msg_ids() == [f"gw-kill-{seq}" for seq, _ in committed]
    assert [m["device_id"] for m in platform.stored] == [dev for _, dev in committed]
