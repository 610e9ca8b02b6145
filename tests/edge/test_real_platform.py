"""The edge agent against the real platform: 100,000 readings, the uplink cut three times."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import uvicorn

from iplus.access.edge import EdgeAgent, Reading, parse_config
from iplus.access.registry import DeviceSpec
from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.infra.telemetry import Selection

N = 100_000
DEVICES = 4
MODEL = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Counter",
    "properties": {"n": {"type": "integer", "minimum": 0}, "v": {"type": "number"}},
}


class Uplink:
    """The platform's HTTP side on a fixed loopback port, which the test can take down and bring back."""

    def __init__(self, app: object, port: int) -> None:
        self.app, self.port = app, port
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def up(self) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off")
        )  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 - uvicorn has no event to wait on
            await asyncio.sleep(0.01)

    async def down(self) -> None:
        assert self.server is not None and self.task is not None
        self.server.should_exit = True
        await self.task


async def test_100k_readings_reach_the_real_store_exactly_once_in_order(tmp_path: Path) -> None:
    ctx = build_context(Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0"))
    await upgrade(ctx.db)
    await ctx.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uplink = Uplink(build_asgi(ctx), port)
    try:
        org = await ctx.accounts.create_organisation("Edge", ["provider"])
        await ctx.accounts.create_user(
            org_id=org.id, email="e@edge.io", name="E", password="edge-password", is_admin=True
        )
        admin = await ctx.accounts.authenticate("e@edge.io", "edge-password")
        await ctx.registry.create_type(admin, "counter", MODEL)
        await ctx.registry.create_devices(
            admin, [DeviceSpec("counter", id=f"dev-{d}") for d in range(DEVICES)]
        )
        _, key = await ctx.accounts.create_api_key(admin, "gateway", ["read", "write"])
        await uplink.up()
        config = parse_config(
            {
                "gateway": {"id": "gw-real"},
                "platform": {"base_url": f"http://127.0.0.1:{port}", "api_key": key, "timeout_s": 10},
                "buffer": {"path": "buffer.db"},
                "forward": {"batch_size": 2000, "backoff_initial_s": 0.05, "backoff_max_s": 0.25},
            },
            tmp_path,
        )

        async def produce(agent: EdgeAgent) -> None:
            t0 = 1_764_000_000.0
            for start in range(0, N, 1000):
                await agent.ingest_many(
                    [
                        Reading(f"dev-{i % DEVICES}", t0 + i / 1000, {"n": i, "v": i * 0.5})
                        for i in range(start, start + 1000)
                    ]
                )
                await asyncio.sleep(0.002)

        async def stored() -> int:
            return sum(
                int(r.values["count"] or 0)
                for r in await ctx.telemetry.aggregate(
                    Selection(org.id, keys=["n"]),
                    bucket_seconds=366 * 86400,
                    aggregates=["count"],
                    group=True,
                )
            )

        async def cut_three_times() -> None:
            for threshold in (15_000, 45_000, 70_000):
                while await stored() < threshold:  # noqa: ASYNC110 - the store is polled on purpose
                    await asyncio.sleep(0.05)
                await uplink.down()  # connections are refused now
                await asyncio.sleep(0.3)
                await uplink.up()

        async with EdgeAgent(config, sources=[]) as agent:
            async with asyncio.timeout(180):
                await asyncio.gather(produce(agent), cut_three_times())
                await agent.drain()
            assert agent.stats.retries >= 3 and agent.stats.queued == 0

        for d in range(DEVICES):
            rows = await ctx.telemetry.readings(Selection(org.id, [f"dev-{d}"], ["n"]), limit=N)
            ns = [int(r.value) for r in rows]  # type: ignore[arg-type]
            assert ns == list(range(d, N, DEVICES)), f"dev-{d}: {len(ns)} readings, not exactly once in order"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/api/v1/dead-letters", headers={"X-API-Key": key})).json() == []
    finally:
        await uplink.down()
        await ctx.stop()
