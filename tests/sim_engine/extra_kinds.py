"""A scenario kind defined outside the engine, registered by module name (used by test_register.py)."""

from __future__ import annotations

import random
from typing import Any

import simpy

from iplus.engines.sim.model import ScenarioKind
from iplus.engines.sim.schema import Param, Schema


class Clock:
    """Counts ticks of a fixed period: the count at the horizon is known exactly."""

    def __init__(self, env: simpy.Environment, params: dict[str, Any]) -> None:
        self.env = env
        self.ticks = 0
        env.process(self.run(float(params["period"])))

    def run(self, period: float) -> Any:
        while True:
            yield self.env.timeout(period)
            self.ticks += 1

    def probe(self) -> dict[str, float]:
        return {"ticks": float(self.ticks)}

    def kpis(self, now: float) -> dict[str, float]:
        return {"ticks": float(self.ticks)}


def build(env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]) -> Clock:
    return Clock(env, params)


TICKS = ScenarioKind(
    name="testdomain.ticks",
    title="Ticks",
    description="a clock that ticks",
    schema=Schema(
        (
            Param("horizon", "number", 10.0, "s", "simulated time", exclusive_minimum=0, maximum=1e6),
            Param("period", "number", 1.0, "s", "tick period", exclusive_minimum=0, maximum=1e6),
        )
    ),
    build=build,
    kpi_units={"ticks": "1"},
)
SCENARIOS = (TICKS,)
