"""A tiny deterministic demo source: seeded sine plus noise per property (the rich one lives elsewhere)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Callable

from iplus.access.edge.config import GeneratorConfig
from iplus.access.edge.model import Reading, Scalar
from iplus.access.edge.sources import Sink


class GeneratorSource:
    """One reading per device per tick; values depend only on the seed and the tick number.

    Tick ``i`` has signal time ``i * step_s`` and timestamp ``t0 + i * step_s``, where ``t0`` is the
    clock when the source starts; ticks are ``interval_s`` apart in wall time (0: as fast as the
    agent takes them).
    """

    name = "generator"

    def __init__(self, config: GeneratorConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.ticks = 0

    def readings_at(self, tick: int, t0: float) -> list[Reading]:
        """The readings of tick ``tick``, one per device."""
        cfg = self.config
        t = tick * cfg.step_s
        by_device: dict[str, dict[str, Scalar]] = {}
        for s in cfg.signals:
            value = s.offset + s.amplitude * math.sin(2 * math.pi * t / s.period_s)
            if s.noise:
                rng = random.Random(f"{cfg.seed}:{s.device}:{s.property}:{tick}")  # noqa: S311 - demo noise
                value += rng.gauss(0.0, s.noise)
            by_device.setdefault(s.device, {})[s.property] = round(value, 6)
        return [Reading(device, t0 + t, values) for device, values in by_device.items()]

    async def run(self, sink: Sink) -> None:
        """Generate ``count`` ticks (forever without one)."""
        t0 = self.clock()
        ticks = range(self.config.count) if self.config.count else itertools.count()
        for tick in ticks:
            await sink.ingest_many(self.readings_at(tick, t0))
            self.ticks = tick + 1
            await asyncio.sleep(self.config.interval_s)
