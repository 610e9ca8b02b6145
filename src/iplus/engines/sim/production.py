"""Production line: stations in series with processing times, finite buffers, breakdowns and repairs."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import Any

import simpy

from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema


class Machine:
    """One station's time accounting."""

    def __init__(self, warmup: float) -> None:
        self.busy = Level(warmup)
        self.down = Level(warmup)
        self.blocked = Level(warmup)
        self.failures = 0


class Line:
    """A saturated line: the first station never starves, a station blocks while its output buffer is full."""

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        self.env = env
        self.rng = rng
        self.warmup = float(params["warmup"])
        times: list[float] = params["processing_times"]
        n = len(times)
        self.machines = [Machine(self.warmup) for _ in range(n)]
        self.buffers = [simpy.Store(env, capacity=c) for c in params["buffer_capacities"]]
        self.buffer_levels = [Level(self.warmup) for _ in self.buffers]
        self.wip = Level(self.warmup)
        self.output = 0
        cv = float(params["processing_cv"])
        levels = state.get("buffer_levels", [])
        for i, count in enumerate(levels):
            for _ in range(count):
                self.buffers[i].put(None)
            self.buffer_levels[i].set(0.0, count)
            self.wip.add(0.0, count)
        down = state.get("machines_down", [])
        for i in range(n):
            mtbf, mttr = params["mtbf"][i], params["mttr"][i]
            env.process(
                self.station(i, self._sampler(times[i], cv), mtbf, mttr, bool(i < len(down) and down[i]))
            )

    def _sampler(self, mean: float, cv: float) -> Callable[[], float]:
        if cv == 0:
            return lambda: mean
        shape = 1.0 / (cv * cv)
        gamma = self.rng.gammavariate
        return lambda: gamma(shape, mean / shape)

    def station(
        self, i: int, duration: Callable[[], float], mtbf: float, mttr: float, starts_down: bool
    ) -> Generator[simpy.Event, Any, None]:
        """Take a part, process it (failing after exponential operating time), pass it on."""
        env, expo, m = self.env, self.rng.expovariate, self.machines[i]
        last = i == len(self.machines) - 1
        ttf = expo(1.0 / mtbf) if mtbf > 0 else float("inf")
        if starts_down:
            yield from self._repair(m, mttr)
        while True:
            if i == 0:
                self.wip.add(env.now, 1)
            else:
                yield self.buffers[i - 1].get()
                self.buffer_levels[i - 1].add(env.now, -1)
            remaining = duration()
            m.busy.set(env.now, 1)
            while remaining > ttf:
                yield env.timeout(ttf)
                remaining -= ttf
                m.busy.set(env.now, 0)
                yield from self._repair(m, mttr)
                m.busy.set(env.now, 1)
                ttf = expo(1.0 / mtbf)
            ttf -= remaining
            yield env.timeout(remaining)
            m.busy.set(env.now, 0)
            if last:
                self.wip.add(env.now, -1)
                if env.now >= self.warmup:
                    self.output += 1
            else:
                m.blocked.set(env.now, 1)
                yield self.buffers[i].put(None)
                m.blocked.set(env.now, 0)
                self.buffer_levels[i].add(env.now, 1)

    def _repair(self, m: Machine, mttr: float) -> Generator[simpy.Event, Any, None]:
        if self.env.now >= self.warmup:
            m.failures += 1
        m.down.set(self.env.now, 1)
        yield self.env.timeout(self.rng.expovariate(1.0 / mttr))
        m.down.set(self.env.now, 0)

    def probe(self) -> dict[str, float]:
        """WIP and buffer levels now."""
        out = {"wip": self.wip.value}
        for i, b in enumerate(self.buffer_levels, 1):
            out[f"buffer{i}"] = b.value
        return out

    def kpis(self, now: float) -> dict[str, float]:
        """Throughput, WIP, and per-station utilisation, down and blocked fractions."""
        span = now - self.warmup
        throughput = self.output / span
        wip = self.wip.mean(now)
        out = {
            "throughput": throughput,
            "output": float(self.output),
            "mean_wip": wip,
            "mean_flow_time": wip / throughput if throughput else 0.0,
        }
        for i, m in enumerate(self.machines, 1):
            out[f"m{i}_utilisation"] = m.busy.mean(now)
            out[f"m{i}_down"] = m.down.mean(now)
            out[f"m{i}_blocked"] = m.blocked.mean(now)
            out[f"m{i}_failures"] = float(m.failures)
        return out


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    n = len(params["processing_times"])
    errors = []
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    if len(params["buffer_capacities"]) != n - 1:
        errors.append(
            {"param": "buffer_capacities", "reason": f"needs {n - 1} entries (one between stations)"}
        )
    for key in ("mtbf", "mttr"):
        if len(params[key]) != n:
            errors.append({"param": key, "reason": f"needs one entry per station ({n})"})
    return errors


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    caps = params["buffer_capacities"]
    levels = state.get("buffer_levels", [])
    if (
        not isinstance(levels, list)
        or len(levels) > len(caps)
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= c
            for v, c in zip(levels, caps, strict=False)
        )
    ):
        errors.append({"param": "buffer_levels", "reason": f"must be counts within the capacities {caps}"})
    down = state.get("machines_down", [])
    if (
        not isinstance(down, list)
        or len(down) > len(params["processing_times"])
        or not all(isinstance(v, bool) for v in down)
    ):
        errors.append({"param": "machines_down", "reason": "must be a list of true/false, one per station"})
    elif any(d and params["mttr"][i] <= 0 for i, d in enumerate(down)):
        errors.append({"param": "machines_down", "reason": "a machine without repair time cannot start down"})
    return errors


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one twin per machine in line order; its "buffer" is the level of the buffer after it
    return {
        "machines_down": [str(t.get("state", "")).lower() == "down" for t in twins],
        "buffer_levels": [int(t.get("buffer", 0) or 0) for t in twins[:-1]],
    }


LINE = ScenarioKind(
    name="production_line",
    title="Production line",
    description="Stations in series with finite buffers; machines fail while operating and are repaired.",
    schema=Schema(
        (
            Param(
                "processing_times",
                "array",
                [1.0, 1.2, 0.9],
                "min",
                "mean processing time per station",
                exclusive_minimum=0,
                max_items=30,
            ),
            Param(
                "processing_cv",
                "number",
                0.0,
                "",
                "coefficient of variation (0 = fixed, 1 = exponential)",
                minimum=0,
                maximum=3,
            ),
            Param(
                "buffer_capacities",
                "array",
                [5, 5],
                "parts",
                "buffer between consecutive stations",
                items="integer",
                minimum=1,
                maximum=10_000,
                min_items=0,
                max_items=29,
            ),
            Param(
                "mtbf",
                "array",
                [200.0, 200.0, 200.0],
                "min",
                "mean operating time between failures (0 = never)",
                minimum=0,
                max_items=30,
            ),
            Param(
                "mttr",
                "array",
                [10.0, 10.0, 10.0],
                "min",
                "mean time to repair",
                exclusive_minimum=0,
                max_items=30,
            ),
            Param("horizon", "number", 10_000.0, "min", "simulated time", exclusive_minimum=0, maximum=1e7),
            Param("warmup", "number", 500.0, "min", "initial period left out of the statistics", minimum=0),
        )
    ),
    build=Line,
    kpi_units={"throughput": "1/min", "output": "parts", "mean_wip": "parts", "mean_flow_time": "min"},
    state_fields=(
        StateField("buffer_levels", "parts in each buffer at the start", "buffer"),
        StateField("machines_down", "stations under repair at the start", "state"),
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=lambda p: p["horizon"] / min(p["processing_times"]) * len(p["processing_times"]),
)
