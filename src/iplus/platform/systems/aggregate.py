"""QoS of a composition: candidate options, aggregation over the task graph, normalisation and utility."""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass

from iplus.core.errors import InvalidInput
from iplus.platform.systems.requirement import (
    ATTRIBUTES,
    Choice,
    GlobalConstraints,
    Loop,
    Node,
    Parallel,
    Sequence,
    Task,
    iter_tasks,
)

# for scoring only: a reliability or availability below this counts as this, since on the log scale a
# zero would be minus infinity and outweigh every other attribute
LOG_FLOOR = 1e-6
# a global constraint holds when the aggregate misses it by at most this, relative to the bound (float noise)
REL_TOL = 1e-9
# best and worst closer than this (relative) tell the plans nothing apart: everyone gets the full mark
SAME = 1e-12
COST_CRITERIA = frozenset({"time", "cost"})
# a time or cost past this would overflow the sums over a graph's executions (or CP-SAT's integers)
MAX_VALUE = 1e15
LOG_CRITERIA = frozenset({"reliability", "availability"})


@dataclass(frozen=True)
class Option:
    """One candidate service for one task, its QoS in platform units (hours, currency, fractions)."""

    offer_id: str
    version: int
    org_id: str
    title: str
    time_h: float
    cost: float
    reliability: float
    availability: float
    reputation: float
    capacity: int = 1

    def value(self, attribute: str) -> float:
        """The option's value of one of ``ATTRIBUTES``."""
        return self.time_h if attribute == "time" else float(getattr(self, attribute))


def option_problems(option: Option, where: str) -> list[str]:
    """Why an option's QoS cannot be aggregated (negative time, reliability above 1, NaN...)."""
    problems = []
    for name in ATTRIBUTES:
        v = option.value(name)
        if not math.isfinite(v):
            problems.append(f"{where}/{name}: a finite number")
        elif name in COST_CRITERIA and v < 0:
            problems.append(f"{where}/{name}: at least 0")
        elif name in COST_CRITERIA and v > MAX_VALUE:
            problems.append(f"{where}/{name}: at most {MAX_VALUE:g}")
        elif name not in COST_CRITERIA and not 0 <= v <= 1:
            problems.append(f"{where}/{name}: from 0 to 1")
    return problems


def aggregate(root: Node, choice: Mapping[str, Option]) -> dict[str, float]:
    """The whole graph's QoS for one option per task (semantics in docs/systems.md)."""
    missing = [t.id for t in iter_tasks(root) if t.id not in choice]
    if missing:
        raise InvalidInput("the plan is incomplete", errors=[f"choice/{t}: no option" for t in missing])
    time, cost, rel, avail, rep_sum, rep_weight = _agg(root, choice)
    return {
        "time": time,
        "cost": cost,
        "reliability": rel,
        "availability": avail,
        "reputation": rep_sum / rep_weight,
    }


Agg = tuple[float, float, float, float, float, float]


def _agg(node: Node, choice: Mapping[str, Option]) -> Agg:
    # reputation travels as (probability-weighted sum, probability-weighted task count) so a parent
    # can average over its tasks; reliability and availability stay as products (no log of zero)
    if isinstance(node, Task):
        o = choice[node.id]
        return (o.time_h, o.cost, o.reliability, o.availability, o.reputation, 1.0)
    if isinstance(node, Sequence | Parallel):
        parts = [_agg(c, choice) for c in (node.steps if isinstance(node, Sequence) else node.branches)]
        time = sum(p[0] for p in parts) if isinstance(node, Sequence) else max(p[0] for p in parts)
        return (
            time,
            math.fsum(p[1] for p in parts),
            math.prod(p[2] for p in parts),
            math.prod(p[3] for p in parts),
            math.fsum(p[4] for p in parts),
            math.fsum(p[5] for p in parts),
        )
    if isinstance(node, Choice):
        weighted = [(p, _agg(c, choice)) for p, c in node.branches]
        return (
            math.fsum(p * a[0] for p, a in weighted),
            math.fsum(p * a[1] for p, a in weighted),
            math.prod(a[2] ** p for p, a in weighted),
            math.prod(a[3] ** p for p, a in weighted),
            math.fsum(p * a[4] for p, a in weighted),
            math.fsum(p * a[5] for p, a in weighted),
        )
    assert isinstance(node, Loop)
    t, c, r, a, rs, rw = _agg(node.body, choice)
    k = node.count
    return (k * t, k * c, r**k, a**k, rs, rw)


@dataclass(frozen=True)
class Factors:
    """Per task: expected runs (loops times choice probabilities) and its weight in the reputation mean.

    Every attribute but time is linear in these: cost = sum runs*cost, log reliability = sum runs*log r,
    reputation = sum share*reputation. Time needs the graph because of parallel maxima.
    """

    runs: dict[str, float]
    share: dict[str, float]


def factors(root: Node) -> Factors:
    """The linear coefficients of every task in the aggregates."""
    runs: dict[str, float] = {}
    chance: dict[str, float] = {}

    def walk(node: Node, m: float, pi: float) -> None:
        if isinstance(node, Task):
            runs[node.id], chance[node.id] = m, pi
        elif isinstance(node, Sequence):
            for s in node.steps:
                walk(s, m, pi)
        elif isinstance(node, Parallel):
            for b in node.branches:
                walk(b, m, pi)
        elif isinstance(node, Choice):
            for p, b in node.branches:
                walk(b, m * p, pi * p)
        else:
            walk(node.body, m * node.count, pi)

    walk(root, 1.0, 1.0)
    total = math.fsum(chance.values())
    return Factors(runs=runs, share={t: pi / total for t, pi in chance.items()})


def scoring_logs(root: Node, choice: Mapping[str, Option], f: Factors | None = None) -> dict[str, float]:
    """Log reliability and availability of a plan as scored: each option's value floored at LOG_FLOOR."""
    f = f or factors(root)
    logs = {}
    for q in LOG_CRITERIA:
        terms = (f.runs[t] * math.log(max(o.value(q), LOG_FLOOR)) for t, o in choice.items() if t in f.runs)
        logs[q] = math.fsum(terms)
    return logs


@dataclass(frozen=True)
class Bounds:
    """Worst and best achievable aggregate per attribute; reliability and availability as scored logs."""

    worst: dict[str, float]
    best: dict[str, float]

    def spread(self, attribute: str) -> float:
        """How far best lies from worst (0 when they tell plans nothing apart)."""
        lo, hi = self.worst[attribute], self.best[attribute]
        return 0.0 if abs(hi - lo) <= SAME * max(1.0, abs(lo), abs(hi)) else abs(hi - lo)


def _better(attribute: str) -> int:
    return -1 if attribute in COST_CRITERIA else 1


def scored_value(attribute: str, option: Option) -> float:
    """The value an option is ranked by: log of the floored value for reliability and availability."""
    v = option.value(attribute)
    return math.log(max(v, LOG_FLOOR)) if attribute in LOG_CRITERIA else v


def bounds(root: Node, options: Mapping[str, Seq[Option]]) -> Bounds:
    """Worst and best achievable aggregates: the aggregate of every task's worst (best) option.

    Valid because every aggregation is monotone in every task's value, for every attribute.
    """
    f = factors(root)
    worst: dict[str, float] = {}
    best: dict[str, float] = {}
    for q in ATTRIBUTES:
        sign = _better(q)
        lo = {t: min(opts, key=lambda o: sign * scored_value(q, o)) for t, opts in options.items()}
        hi = {t: max(opts, key=lambda o: sign * scored_value(q, o)) for t, opts in options.items()}
        if q in LOG_CRITERIA:
            worst[q], best[q] = scoring_logs(root, lo, f)[q], scoring_logs(root, hi, f)[q]
        else:
            worst[q], best[q] = aggregate(root, lo)[q], aggregate(root, hi)[q]
    return Bounds(worst=worst, best=best)


def normalised(attribute: str, value: float, b: Bounds) -> float:
    """One attribute scored in [0, 1] between the worst (0) and best (1) achievable; ``value`` as scored."""
    spread = b.spread(attribute)
    if spread == 0:
        return 1.0
    x = (value - b.worst[attribute]) / (b.best[attribute] - b.worst[attribute])
    return min(1.0, max(0.0, x))


def scores(root: Node, choice: Mapping[str, Option], b: Bounds) -> dict[str, float]:
    """Every attribute of a plan normalised to [0, 1]."""
    agg = aggregate(root, choice)
    logs = scoring_logs(root, choice)
    return {q: normalised(q, logs[q] if q in LOG_CRITERIA else agg[q], b) for q in ATTRIBUTES}


def utility(root: Node, choice: Mapping[str, Option], b: Bounds, weights: Mapping[str, float]) -> float:
    """The weighted sum of normalised attributes, in [0, 1] (weights sum to 1)."""
    s = scores(root, choice, b)
    return math.fsum(weights.get(q, 0.0) * s[q] for q in ATTRIBUTES)


@dataclass(frozen=True)
class Violation:
    """A global constraint the aggregate misses."""

    name: str
    bound: float
    value: float


CONSTRAINT_ATTRIBUTE = {
    "deadline_h": "time",
    "budget": "cost",
    "min_reliability": "reliability",
    "min_availability": "availability",
}


def active_constraints(g: GlobalConstraints) -> list[str]:
    """Names of the global constraints given, in a fixed order."""
    return [name for name in CONSTRAINT_ATTRIBUTE if getattr(g, name) is not None]


def holds(name: str, bound: float, value: float) -> bool:
    """Whether an aggregate meets one global constraint, to ``REL_TOL``."""
    slack = REL_TOL * max(1.0, abs(bound))
    return value <= bound + slack if name in ("deadline_h", "budget") else value >= bound - slack


def violations(agg: Mapping[str, float], g: GlobalConstraints) -> list[Violation]:
    """The global constraints an aggregate misses."""
    out = []
    for name in active_constraints(g):
        bound = float(getattr(g, name))
        value = agg[CONSTRAINT_ATTRIBUTE[name]]
        if not holds(name, bound, value):
            out.append(Violation(name, bound, value))
    return out
