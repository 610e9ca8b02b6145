"""Actions run a bounded number at once: a burst of alarms queues instead of opening connections without end."""

from __future__ import annotations

import asyncio
from typing import Any

from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.model import ServiceAction


async def test_no_more_than_the_limit_run_at_once() -> None:
    runner = ActionRunner(concurrency=3)
    running = peak = 0
    release = asyncio.Event()

    async def slow(org_id: str, params: dict[str, Any], alarm: dict[str, Any]) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return "done"

    runner.register("slow", slow)
    action = ServiceAction(type="service", name="slow")
    tasks = [asyncio.create_task(runner.run("org", action, {"id": str(i)})) for i in range(20)]
    await asyncio.sleep(0.05)
    assert peak == 3 and running == 3
    release.set()
    outcomes = await asyncio.gather(*tasks)
    assert all(o.ok for o in outcomes) and peak == 3
