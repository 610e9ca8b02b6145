"""Signalised intersection: fixed-time signal (Webster's optimal cycle and green split), Poisson arrivals."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema


def webster_cycle(lost_time: float, flow_ratio_sum: float) -> float:
    """Webster's optimal cycle C0 = (1.5 L + 5) / (1 - Y), in seconds."""
    return float((1.5 * lost_time + 5.0) / (1.0 - flow_ratio_sum))


def webster_delay(cycle: float, green: float, flow: float, saturation: float) -> float:
    """Webster's average delay per vehicle (s) on one approach, flows in veh/s."""
    lam = green / cycle
    x = flow * cycle / (saturation * green)
    uniform = cycle * (1 - lam) ** 2 / (2 * (1 - lam * x))
    random_part = x * x / (2 * flow * (1 - x))
    correction = 0.65 * (cycle / flow**2) ** (1 / 3) * x ** (2 + 5 * lam)
    return float(uniform + random_part - correction)


def timing(params: dict[str, Any]) -> dict[str, Any]:
    """Phase flow ratios, lost time, cycle (Webster's optimum when none is given) and effective greens."""
    phases = max(params["phase_of"]) + 1
    ratios = [0.0] * phases
    for q, s, ph in zip(params["arrival_rates"], params["saturation_flows"], params["phase_of"], strict=True):
        ratios[ph] = max(ratios[ph], q / s)
    total = sum(ratios)
    lost = phases * float(params["lost_time_per_phase"])
    cycle = float(params["cycle"]) or webster_cycle(lost, total)
    greens = [(cycle - lost) * y / total for y in ratios]
    return {"flow_ratios": ratios, "Y": total, "lost_time": lost, "cycle": cycle, "greens": greens}


class Intersection:
    """One queue per approach, discharged at the saturation headway while its phase shows green."""

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.t = timing(params)
        self.warmup = float(params["warmup"])
        per_phase = float(params["lost_time_per_phase"])
        # phase k's effective green starts after the previous phases' greens and lost times
        self.windows: list[tuple[float, float]] = []
        start = 0.0
        for g in self.t["greens"]:
            start += per_phase
            self.windows.append((start, start + g))
            start += g
        n = len(params["arrival_rates"])
        self.queues: list[deque[float]] = [deque() for _ in range(n)]
        self.levels = [Level(self.warmup) for _ in range(n)]
        self.wakeups: list[simpy.Event | None] = [None] * n
        self.delays = [0.0] * n
        self.counts = [0] * n
        self.max_queue = [0] * n
        initial = state.get("queue_lengths", [])
        for i in range(n):
            for _ in range(initial[i] if i < len(initial) else 0):
                self.queues[i].append(-1.0)  # already there: not measured
            self.levels[i].set(0.0, len(self.queues[i]))
            env.process(self.arrivals(i))
            env.process(self.discharge(i))

    def _green_wait(self, phase: int, now: float, headway: float) -> float:
        """Seconds until the phase may discharge the next vehicle (0 now).

        A vehicle starts while at least half a headway of effective green remains, so a cycle
        discharges g / h vehicles rounded to the nearest whole one.
        """
        cycle = self.t["cycle"]
        start, end = self.windows[phase]
        end -= headway / 2
        pos = now % cycle
        if start <= pos < end:
            return 0.0
        return float((start - pos) % cycle)

    def arrivals(self, i: int) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals on approach ``i`` (flows are veh/h)."""
        env, rate = self.env, self.p["arrival_rates"][i] / 3600.0
        while True:
            yield env.timeout(self.rng.expovariate(rate))
            self.queues[i].append(env.now)
            self.levels[i].set(env.now, len(self.queues[i]))
            self.max_queue[i] = max(self.max_queue[i], len(self.queues[i]))
            wake = self.wakeups[i]
            if wake is not None:
                self.wakeups[i] = None
                wake.succeed()

    def discharge(self, i: int) -> Generator[simpy.Event, Any, None]:
        """Head vehicle crosses in one saturation headway once the signal is green."""
        env = self.env
        phase = self.p["phase_of"][i]
        headway = 3600.0 / self.p["saturation_flows"][i]
        queue = self.queues[i]
        while True:
            if not queue:
                wake = self.wakeups[i] = env.event()
                yield wake
            wait = self._green_wait(phase, env.now, headway)
            if wait > 0:
                yield env.timeout(wait)
            yield env.timeout(headway)
            arrived = queue.popleft()
            self.levels[i].set(env.now, len(queue))
            if arrived >= self.warmup:
                # delay: time beyond the headway it would have needed on a green, empty approach
                self.delays[i] += env.now - arrived - headway
                self.counts[i] += 1

    def probe(self) -> dict[str, float]:
        """Queue length per approach now."""
        return {f"a{i + 1}_queue": float(len(q)) for i, q in enumerate(self.queues)}

    def kpis(self, now: float) -> dict[str, float]:
        """Signal timing, delay per approach and over all vehicles, mean and max queues."""
        t = self.t
        out: dict[str, float] = {"cycle": t["cycle"], "flow_ratio_sum": t["Y"], "lost_time": t["lost_time"]}
        for k, g in enumerate(t["greens"], 1):
            out[f"green{k}"] = g
        total_delay, total_count = 0.0, 0
        for i, (q, s, ph) in enumerate(
            zip(self.p["arrival_rates"], self.p["saturation_flows"], self.p["phase_of"], strict=True)
        ):
            a = f"a{i + 1}_"
            green = t["greens"][ph]
            out[a + "degree_of_saturation"] = q * t["cycle"] / (s * green)
            out[a + "mean_delay"] = self.delays[i] / self.counts[i] if self.counts[i] else 0.0
            out[a + "webster_delay"] = webster_delay(t["cycle"], green, q / 3600.0, s / 3600.0)
            out[a + "mean_queue"] = self.levels[i].mean(now)
            out[a + "max_queue"] = float(self.max_queue[i])
            total_delay += self.delays[i]
            total_count += self.counts[i]
        out["mean_delay"] = total_delay / total_count if total_count else 0.0
        out["vehicles"] = float(total_count)
        return out


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    n = len(params["arrival_rates"])
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    for key in ("saturation_flows", "phase_of"):
        if len(params[key]) != n:
            errors.append({"param": key, "reason": f"needs one entry per approach ({n})"})
    if errors:
        return errors
    phases = set(params["phase_of"])
    if phases != set(range(max(phases) + 1)) or len(phases) < 2:
        return [{"param": "phase_of", "reason": "phases must be numbered 0..k-1 with at least two phases"}]
    ratios = [0.0] * len(phases)
    for q, s, ph in zip(params["arrival_rates"], params["saturation_flows"], params["phase_of"], strict=True):
        ratios[ph] = max(ratios[ph], q / s)
    lost = len(phases) * params["lost_time_per_phase"]
    if sum(ratios) >= 1:
        errors.append(
            {"param": "arrival_rates", "reason": f"flow ratios sum to {sum(ratios):.3f} >= 1: oversaturated"}
        )
    elif params["cycle"] and params["cycle"] <= lost:
        errors.append({"param": "cycle", "reason": f"must exceed the lost time {lost} s"})
    elif params["cycle"] and any(
        q * params["cycle"] / (s * (params["cycle"] - lost) * ratios[ph] / sum(ratios)) >= 1
        for q, s, ph in zip(
            params["arrival_rates"], params["saturation_flows"], params["phase_of"], strict=True
        )
    ):
        errors.append({"param": "cycle", "reason": "too short: an approach would be oversaturated"})
    return errors


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    q = state.get("queue_lengths", [])
    n = len(params["arrival_rates"])
    if (
        not isinstance(q, list)
        or len(q) > n
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10_000 for v in q)
    ):
        return [{"param": "queue_lengths", "reason": f"must list at most {n} counts 0..10000"}]
    return []


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one twin per approach (a queue detector), in approach order
    return {"queue_lengths": [int(t.get("queue_length", 0) or 0) for t in twins]}


SIGNAL = ScenarioKind(
    name="signalised_intersection",
    title="Signalised intersection",
    description="Fixed-time signal with Webster's optimal cycle and green split; Poisson arrivals per "
    "approach discharge at the saturation flow during green.",
    schema=Schema(
        (
            Param(
                "arrival_rates",
                "array",
                [600.0, 500.0, 400.0, 350.0],
                "veh/h",
                "arrival flow per approach",
                exclusive_minimum=0,
                maximum=10_000,
                max_items=16,
            ),
            Param(
                "saturation_flows",
                "array",
                [1800.0, 1800.0, 1600.0, 1600.0],
                "veh/h",
                "saturation flow per approach",
                exclusive_minimum=0,
                maximum=20_000,
                max_items=16,
            ),
            Param(
                "phase_of",
                "array",
                [0, 0, 1, 1],
                "",
                "signal phase (0..k-1) serving each approach",
                items="integer",
                minimum=0,
                maximum=7,
                max_items=16,
            ),
            Param(
                "lost_time_per_phase",
                "number",
                4.0,
                "s",
                "start-up plus clearance lost time",
                minimum=0,
                maximum=60,
            ),
            Param(
                "cycle", "number", 0.0, "s", "cycle length (0 = Webster's optimum)", minimum=0, maximum=600
            ),
            Param("horizon", "number", 36_000.0, "s", "simulated time", exclusive_minimum=0, maximum=1e7),
            Param("warmup", "number", 600.0, "s", "initial period left out of the statistics", minimum=0),
        )
    ),
    build=Intersection,
    kpi_units={"cycle": "s", "flow_ratio_sum": "", "lost_time": "s", "mean_delay": "s", "vehicles": "veh"},
    state_fields=(
        StateField("queue_lengths", "vehicles queued on each approach at the start", "queue_length"),
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=lambda p: sum(p["arrival_rates"]) / 3600 * p["horizon"],
)
