"""Why: the constraints that bind when no plan exists, and per task why each option was (not) chosen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from collections.abc import Sequence as Seq
from itertools import combinations
from typing import Any

import numpy as np

from iplus.platform.systems.aggregate import (
    CONSTRAINT_ATTRIBUTE,
    COST_CRITERIA,
    Option,
    aggregate,
    holds,
    scored_value,
)
from iplus.platform.systems.requirement import ATTRIBUTES, RequirementGraph, Task

# the largest set of constraints tried together (there are four global constraints)
MAX_SET = 4
# whether plans meeting these constraints exist (None: not known in time)
Feasible = Callable[[frozenset[str]], bool | None]
# the best value of one constraint's attribute among plans meeting the others (None: none, or not known)
Within = Callable[[str, Collection[str]], float | None]

_BEST = {
    "time": "the fastest plan takes {} h",
    "cost": "the cheapest plan costs {} {}",
    "reliability": "the most reliable plan reaches {}",
    "availability": "the most available plan reaches {}",
}


def describe(req: RequirementGraph, name: str) -> str:
    """A global constraint in words, with its bound: "budget 500 EUR"."""
    g = req.constraints
    bound = getattr(g, name)
    return {
        "deadline_h": f"deadline {bound:g} h",
        "budget": f"budget {bound:g} {g.currency}",
        "min_reliability": f"minimum reliability {bound:g}",
        "min_availability": f"minimum availability {bound:g}",
    }[name]


def number(value: float, bound: float) -> str:
    """A value with just enough digits not to read like the bound it misses."""
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if text != f"{bound:.{digits}g}":
            return text
    return repr(value)


def best_phrase(req: RequirementGraph, name: str, value: float) -> str:
    """ "the cheapest plan costs 130 EUR" for the best value of a constraint's attribute."""
    attribute = CONSTRAINT_ATTRIBUTE[name]
    text = number(value, float(getattr(req.constraints, name)))
    return _BEST[attribute].format(text, req.constraints.currency)


def best_alone(req: RequirementGraph, cands: Mapping[str, Seq[Option]], name: str) -> float:
    """The best aggregate of one attribute: every task's best option (every aggregation is monotone)."""
    attribute = CONSTRAINT_ATTRIBUTE[name]
    sign = -1 if attribute in COST_CRITERIA else 1
    choice = {tid: max(opts, key=lambda o: sign * o.value(attribute)) for tid, opts in cands.items()}
    return aggregate(req.root, choice)[attribute]


def _together(req: RequirementGraph, subset: tuple[str, ...], within: Within) -> str:
    words = [describe(req, n) for n in subset]
    joined = ", ".join(words[:-1]) + " and " + words[-1]
    reasons = []
    for name in subset:
        others = [n for n in subset if n != name]
        value = within(name, others)
        if value is not None:
            meeting = " and ".join(describe(req, n) for n in others)
            reasons.append(f"meeting {meeting}, {best_phrase(req, name, value)}")
    both = "both" if len(subset) == 2 else "all"
    return f"{joined} cannot {both} be met" + (": " + "; ".join(reasons) if reasons else "")


def explain(
    req: RequirementGraph,
    cands: Mapping[str, Seq[Option]],
    names: Seq[str],
    feasible: Feasible,
    within: Within,
) -> list[str]:
    """Which constraints bind: each one no plan meets alone, else the smallest sets no plan meets together."""
    alone = []
    for name in names:
        value = best_alone(req, cands, name)
        if not holds(name, float(getattr(req.constraints, name)), value):
            alone.append(f"{describe(req, name)}: {best_phrase(req, name, value)}")
    if alone:
        return alone
    found: list[tuple[str, ...]] = []
    unknown = False
    for size in range(2, min(MAX_SET, len(names)) + 1):
        for subset in combinations(names, size):
            if any(set(f) <= set(subset) for f in found):
                continue
            answer = feasible(frozenset(subset))
            unknown |= answer is None
            if answer is False:
                found.append(subset)
        if found:
            return [_together(req, s, within) for s in found]
    if unknown:
        return ["the constraints could not be checked together within the time limit"]
    return ["the global constraints cannot be met together"]


def task_without_candidates(task_id: str, reasons: Seq[str]) -> str:
    """ "task X: no candidate", with how many options were left out and why."""
    if not reasons:
        return f"task {task_id}: no candidate"
    counts = Counter(r.split(":")[0] for r in reasons)
    parts = [f"{n} {key}" if key == "excluded" else f"{n} fail {key}" for key, n in counts.items()]
    return f"task {task_id}: no candidate left ({', '.join(parts)})"


def _local_reason(t: Task, o: Option) -> str | None:
    c = t.constraints
    for name, limit, value, over in (
        ("max_price", c.max_price, o.cost, True),
        ("max_time_h", c.max_time_h, o.time_h, True),
        ("min_reliability", c.min_reliability, o.reliability, False),
        ("min_availability", c.min_availability, o.availability, False),
    ):
        if limit is not None and (value > limit if over else value < limit):
            return f"{name} {limit:g}: the option has {value:g}"
    return None


def candidates(
    req: RequirementGraph,
    options: Mapping[str, Seq[Option]],
    fixed: Mapping[str, Option],
    excluded: Mapping[str, set[str]],
) -> tuple[dict[str, list[Option]], dict[str, list[tuple[Option, str]]]]:
    """Per task the options in play, and the ones left out with why (excluded, or a task's own bound)."""
    cands: dict[str, list[Option]] = {}
    dropped: dict[str, list[tuple[Option, str]]] = {}
    for t in req.tasks():
        if t.id in fixed:
            cands[t.id], dropped[t.id] = [fixed[t.id]], []
            continue
        keep, out = [], []
        for o in options.get(t.id, ()):
            why = "excluded" if o.offer_id in excluded.get(t.id, set()) else _local_reason(t, o)
            if why:
                out.append((o, why))
            else:
                keep.append(o)
        cands[t.id], dropped[t.id] = keep, out
    return cands, dropped


def _row(o: Option, scores: dict[str, float], u: float | None, chosen: bool, note: str) -> dict[str, Any]:
    return {
        "offer_id": o.offer_id,
        "version": o.version,
        "org_id": o.org_id,
        "title": o.title,
        "qos": {q: o.value(q) for q in ATTRIBUTES},
        "scores": scores,
        "local_utility": u,
        "chosen": chosen,
        "note": note,
    }


def ranking(
    req: RequirementGraph,
    cands: Mapping[str, Seq[Option]],
    dropped: Mapping[str, Seq[tuple[Option, str]]],
    fixed: Mapping[str, Option],
    chosen: Mapping[str, Option],
) -> dict[str, list[dict[str, Any]]]:
    """Per task every option: its scores among the task's candidates (min-max, 1 = best) and why it was
    or was not chosen; the chosen one first, then by local utility, then the ones left out."""
    w = np.array([req.weights[q] for q in ATTRIBUTES])
    out: dict[str, list[dict[str, Any]]] = {}
    for t in req.tasks():
        opts = cands[t.id]
        rows: list[dict[str, Any]] = []
        if opts:
            v = np.array([[scored_value(q, o) for q in ATTRIBUTES] for o in opts])
            lo, hi = v.min(axis=0), v.max(axis=0)
            gain = np.where([q in COST_CRITERIA for q in ATTRIBUTES], hi - v, v - lo)
            span = hi - lo
            # equal values everywhere tell the options nothing apart: each gets the full mark
            s = np.where(span > 1e-12, gain / np.where(span > 1e-12, span, 1.0), 1.0)
            local = s @ w
            for i, o in enumerate(opts):
                is_chosen = chosen.get(t.id) is o
                note = "chosen" if is_chosen else "not in the best plan"
                note = "fixed: already done" if t.id in fixed else note
                scores = {q: float(s[i, j]) for j, q in enumerate(ATTRIBUTES)}
                rows.append(_row(o, scores, float(local[i]), is_chosen, note))
        rows.sort(key=lambda r: (not r["chosen"], -r["local_utility"], r["offer_id"]))
        rows += [_row(o, {}, None, False, why) for o, why in dropped[t.id]]
        out[t.id] = rows
    return out
