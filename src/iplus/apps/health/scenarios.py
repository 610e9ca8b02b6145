"""Simulation scenario of the care home: caregivers answering NEWS2 escalations by clinical-risk level.

Escalations of three NEWS2 clinical-risk levels (high: aggregate 7 or more; medium: 5-6; low-medium: a 3
in one parameter) arrive as independent Poisson streams. ``caregivers`` caregivers answer them with a
non-preemptive priority rule: a free caregiver takes the oldest escalation of the highest waiting level
and finishes an assessment before taking the next one. Assessment times have a mean per level (the same
for every level unless set) and a coefficient of variation (1: exponential, 0: fixed, otherwise gamma).

The response (wait) time of an escalation runs from its arrival until a caregiver starts assessing it.
Each level's target is the home's own policy for answering it, not a NEWS2 rule.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from iplus.apps.health.news2 import assess
from iplus.apps.health.things import NEWS2_INPUT
from iplus.core.errors import InvalidInput
from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema

KIND = "health.escalation_response"
# (parameter and KPI prefix, NEWS2 clinical risk, default rate per hour, default target in minutes),
# highest priority first
LEVELS = (
    ("high", "high", 0.3, 5.0),
    ("medium", "medium", 0.9, 30.0),
    ("low_medium", "low-medium", 1.8, 60.0),
)
P90 = 0.9
# smaller is a fixed time in all but name (use 0); far smaller, the gamma shape 1/cv² overflows to infinity
MIN_CV = 0.001
# workload units of one escalation: its arrival, wait, assessment and release cost up to 11 µs, and the
# engine's limit of 20 million units must stay within a minute of one worker
ESCALATION_COST = 6


@dataclass(slots=True)
class Waiting:
    """An escalation waiting for a caregiver: when it arrived, whether it counts, the event that starts it."""

    arrived: float
    measured: bool
    event: simpy.Event


class Home:
    """Caregivers and one first-come-first-served queue per level; a free caregiver takes the highest level.

    The queues are deques, not a SimPy ``PriorityResource``: its queue sorts itself on every request, so a
    long queue (a large backlog, a load near 1) would cost time quadratic in its length.
    """

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        self.env = env
        self.rng = rng
        self.warmup = float(params["warmup"])
        self.horizon = float(params["horizon"])
        self.caregivers = int(params["caregivers"])
        self.free = self.caregivers
        base = float(params["assessment_time"])
        cv = float(params["assessment_cv"])
        self.targets = [float(params[f"target_{key}"]) for key, *_ in LEVELS]
        self.samplers = [
            self._sampler(float(params[f"assessment_time_{key}"]) or base, cv) for key, *_ in LEVELS
        ]
        n = len(LEVELS)
        self.lines: list[deque[Waiting]] = [deque() for _ in range(n)]
        self.waits = [array("d") for _ in range(n)]
        self.queues = [Level(self.warmup) for _ in range(n)]
        self.arrived = [0] * n
        self.waiting = 0
        self.max_queue = 0
        self.busy_time = 0.0
        self.completed = 0
        self.in_system = 0
        # escalations open at the start still waiting, and the time the last of them got a caregiver
        self.backlog = 0
        self.backlog_answered = 0.0
        for level, (key, *_) in enumerate(LEVELS):
            for _ in range(int(state.get(f"open_{key}", 0))):
                self.backlog += 1
                env.process(self.escalation(level, measured=False, backlog=True))
        for level, (key, *_) in enumerate(LEVELS):
            rate = float(params[f"rate_{key}"]) / 60.0  # per hour -> per minute of simulated time
            if rate > 0:
                env.process(self.source(level, rate))

    def _sampler(self, mean: float, cv: float) -> Callable[[], float]:
        if cv == 0:
            return lambda: mean
        if cv == 1:
            expo, rate = self.rng.expovariate, 1.0 / mean
            return lambda: expo(rate)
        shape = 1.0 / (cv * cv)
        gamma = self.rng.gammavariate
        return lambda: gamma(shape, mean / shape)

    def source(self, level: int, rate: float) -> Generator[simpy.Event, Any, None]:
        """Poisson escalations of one clinical-risk level."""
        env, expo, warmup = self.env, self.rng.expovariate, self.warmup
        while True:
            yield env.timeout(expo(rate))
            measured = env.now >= warmup
            if measured:
                self.arrived[level] += 1
            env.process(self.escalation(level, measured=measured))

    def escalation(
        self, level: int, *, measured: bool, backlog: bool = False
    ) -> Generator[simpy.Event, Any, None]:
        """Wait for a caregiver (higher risk first), be assessed, close."""
        env = self.env
        arrived = env.now
        self.in_system += 1
        if self.free > 0:
            self.free -= 1  # a free caregiver takes it at once: nothing waits while one is free
        else:
            ticket = Waiting(arrived, measured, env.event())
            self.lines[level].append(ticket)
            self._queue(level, arrived, 1)
            yield ticket.event  # the caregiver who hands over stays busy: ``free`` does not change
        start = env.now
        if measured:
            self.waits[level].append(start - arrived)
        if backlog:
            self.backlog -= 1
            self.backlog_answered = start
        service = self.samplers[level]()
        overlap = min(start + service, self.horizon) - max(start, self.warmup)
        if overlap > 0:
            self.busy_time += overlap
        yield env.timeout(service)
        self.in_system -= 1
        if env.now >= self.warmup:
            self.completed += 1
        self._release()

    def _release(self) -> None:
        """A caregiver is done: the oldest escalation of the highest waiting level, or a free caregiver."""
        for level, line in enumerate(self.lines):
            if line:
                ticket = line.popleft()
                self._queue(level, self.env.now, -1)
                ticket.event.succeed()
                return
        self.free += 1

    def _queue(self, level: int, now: float, delta: int) -> None:
        self.queues[level].add(now, delta)
        before = self.waiting
        self.waiting += delta
        if now >= self.warmup:
            # the queue held ``before`` since its last change: inside the measured period too unless it
            # changes at the warm-up instant itself
            held = before if now > self.warmup else 0
            self.max_queue = max(self.max_queue, held, self.waiting)

    def probe(self) -> dict[str, float]:
        """Escalations waiting per level and caregivers busy now."""
        out = {f"waiting_{key}": q.value for (key, *_), q in zip(LEVELS, self.queues, strict=True)}
        out["busy_caregivers"] = float(self.caregivers - self.free)
        return out

    def kpis(self, now: float) -> dict[str, float]:
        """Response times per level, share within target, utilisation, queue and backlog."""
        span = now - self.warmup
        # measured escalations still waiting at the end that are already past their target count as missed
        overdue = [
            sum(1 for w in line if w.measured and now - w.arrived > target)
            for line, target in zip(self.lines, self.targets, strict=True)
        ]
        out: dict[str, float] = {}
        for level, (key, *_) in enumerate(LEVELS):
            waits = self.waits[level]
            n = len(waits)
            within = sum(1 for w in waits if w <= self.targets[level])
            decided = n + overdue[level]
            out[f"{key}_escalations"] = float(self.arrived[level])
            out[f"{key}_answered"] = float(n)
            out[f"{key}_mean_wait"] = math.fsum(waits) / n if n else 0.0
            out[f"{key}_p90_wait"] = quantile(waits, P90)
            out[f"{key}_within_target"] = within / decided if decided else 1.0
            out[f"{key}_mean_queue"] = self.queues[level].mean(now)
        answered = sum(len(w) for w in self.waits)
        out["answered"] = float(answered)
        out["mean_wait"] = math.fsum(math.fsum(w) for w in self.waits) / answered if answered else 0.0
        out["mean_queue"] = math.fsum(q.mean(now) for q in self.queues)
        # the queue has held its present length since its last change, up to the end
        out["max_queue"] = float(max(self.max_queue, self.waiting))
        out["utilisation"] = self.busy_time / span / self.caregivers if span > 0 else 0.0
        out["assessments_completed"] = float(self.completed)
        out["open_at_end"] = float(self.in_system)
        # the horizon when part of the backlog never got a caregiver
        out["backlog_answered"] = now if self.backlog else self.backlog_answered
        return out


def quantile(values: array[float] | list[float], q: float) -> float:
    """Nearest-rank quantile: the smallest value with at least a share ``q`` of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def offered_load(params: dict[str, Any]) -> float:
    """Caregiver-minutes of assessment asked for per minute, per caregiver (the utilisation it implies)."""
    base = float(params["assessment_time"])
    work = sum(
        float(params[f"rate_{key}"]) / 60.0 * (float(params[f"assessment_time_{key}"]) or base)
        for key, *_ in LEVELS
    )
    return work / int(params["caregivers"])


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    cv = params["assessment_cv"]
    if 0 < cv < MIN_CV:
        errors.append(
            {
                "param": "assessment_cv",
                "reason": f"must be 0 (fixed times) or at least {MIN_CV} (gamma times), got {cv}",
            }
        )
    load = offered_load(params)
    if load >= 1:
        errors.append(
            {
                "param": "caregivers",
                "reason": f"{params['caregivers']} caregivers would be busy {load:.0%} of the time: "
                "escalations would pile up without end; add caregivers or lower the rates",
            }
        )
    return errors


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    for key, *_ in LEVELS:
        value = state.get(f"open_{key}", 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            errors.append({"param": f"open_{key}", "reason": "must be a count 0..10000"})
    return errors


def risk_of(reported: dict[str, Any]) -> str | None:
    """The NEWS2 clinical risk of a wearable twin's reported vital signs; None without a full set."""
    if any(reported.get(prop) is None for prop in NEWS2_INPUT):
        return None
    inputs: dict[str, Any] = {NEWS2_INPUT[prop]: reported[prop] for prop in NEWS2_INPUT}
    inputs["air_or_oxygen"] = "oxygen" if reported.get("on_oxygen") is True else "air"
    inputs["spo2_scale"] = 2 if reported.get("spo2_scale") == 2 else 1
    try:
        outputs = assess(**inputs)
    except (InvalidInput, TypeError, ValueError, ArithmeticError):
        # not a chartable set of observations (a string, NaN or a huge number where a vital sign
        # belongs: the chart's exact decimals raise InvalidOperation, float() OverflowError)
        return None
    return None if outputs["aggregate"] == 0 else str(outputs["clinical_risk"])


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one twin per resident's wearable: its current NEWS2 risk is one open escalation of that level
    risks = [risk_of(t) for t in twins]
    return {f"open_{key}": sum(1 for r in risks if r == risk) for key, risk, *_ in LEVELS}


def _rate(key: str, risk: str, default: float) -> Param:
    return Param(
        f"rate_{key}",
        "number",
        default,
        "1/h",
        f"escalations at NEWS2 {risk} clinical risk per hour (Poisson)",
        minimum=0,
        maximum=600,
    )


def _target(key: str, risk: str, default: float) -> Param:
    return Param(
        f"target_{key}",
        "number",
        default,
        "min",
        f"the home's response target for a {risk} escalation (a caregiver starts within it)",
        minimum=0,
        maximum=10_080,
    )


def _own_time(key: str, risk: str) -> Param:
    return Param(
        f"assessment_time_{key}",
        "number",
        0.0,
        "min",
        f"mean assessment time of a {risk} escalation (0 = assessment_time)",
        minimum=0,
        maximum=1440,
    )


SCHEMA = Schema(
    (
        *(_rate(key, risk, rate) for key, risk, rate, _ in LEVELS),
        Param("caregivers", "integer", 2, "", "caregivers answering escalations", minimum=1, maximum=200),
        Param(
            "assessment_time",
            "number",
            20.0,
            "min",
            "mean time a caregiver spends assessing one escalation",
            exclusive_minimum=0,
            maximum=1440,
        ),
        *(_own_time(key, risk) for key, risk, *_ in LEVELS),
        Param(
            "assessment_cv",
            "number",
            1.0,
            "",
            "coefficient of variation of assessment times (1 = exponential, 0 = fixed, else gamma)",
            minimum=0,
            maximum=4,
        ),
        *(_target(key, risk, target) for key, risk, _, target in LEVELS),
        Param(
            "horizon", "number", 43_200.0, "min", "simulated time (43,200 = 30 days)", exclusive_minimum=0,
            maximum=1e8,
        ),
        Param("warmup", "number", 1440.0, "min", "initial period left out of the statistics", minimum=0),
    )
)  # fmt: skip


def _kpi_units() -> dict[str, str]:
    units: dict[str, str] = {}
    for key, *_ in LEVELS:
        units |= {
            f"{key}_escalations": "escalations",
            f"{key}_answered": "escalations",
            f"{key}_mean_wait": "min",
            f"{key}_p90_wait": "min",
            f"{key}_within_target": "",
            f"{key}_mean_queue": "escalations",
        }
    return units | {
        "answered": "escalations",
        "mean_wait": "min",
        "mean_queue": "escalations",
        "max_queue": "escalations",
        "utilisation": "",
        "assessments_completed": "escalations",
        "open_at_end": "escalations",
        "backlog_answered": "min",
    }


ESCALATION_RESPONSE = ScenarioKind(
    name=KIND,
    title="Care home: caregivers answering NEWS2 escalations",
    description="NEWS2 escalations (high, medium, low-medium clinical risk) arrive at random; caregivers "
    "answer the highest risk first, oldest first within a level, and finish each assessment.",
    schema=SCHEMA,
    build=Home,
    kpi_units=_kpi_units(),
    state_fields=tuple(
        StateField(
            f"open_{key}",
            f"{risk} escalations open (waiting for a caregiver) at the start",
            "NEWS2 clinical risk scored from the wearable's vital signs",
        )
        for key, risk, *_ in LEVELS
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=lambda p: (
        ESCALATION_COST * sum(float(p[f"rate_{key}"]) for key, *_ in LEVELS) / 60.0 * p["horizon"]
    ),
)

SCENARIOS: tuple[ScenarioKind, ...] = (ESCALATION_RESPONSE,)
