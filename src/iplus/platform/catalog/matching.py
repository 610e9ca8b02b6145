"""Matching a requirement to offers: functional match, QoS filters, then simple additive weighting."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from iplus.core.errors import InvalidInput
from iplus.platform.catalog.spec import BENEFIT, CRITERIA, Qos, Window, open_for

EARTH_RADIUS_KM = 6371.0088
# reputation (0-1, from evaluation of past runs) ranks candidates only when a weight asks for it
REPUTATION = "reputation"
RANKING = (*CRITERIA, REPUTATION)
# the chain of type ids from a type up to the root of its taxonomy, the type first
Lineage = Callable[[str], list[str]]


@dataclass(frozen=True)
class Requirement:
    """What a user needs: a capability type, parameters its inputs must accept, bounds and weights."""

    type: str
    parameters: dict[str, str | None] = field(default_factory=dict)
    max_price: float | None = None
    currency: str | None = None
    max_time_h: float | None = None
    min_reliability: float | None = None
    min_availability: float | None = None
    min_capacity: float | None = None
    deadline: datetime | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    window: Window | None = None
    weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """An offer version as matching sees it."""

    offer_id: str
    version: int
    org_id: str
    title: str
    capability_type: str
    inputs: dict[str, str | None]
    required_inputs: frozenset[str]
    qos: Qos
    calendar: tuple[Window, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    # Beta reputation from the evaluation of past runs; None: not looked up (counts as 0.5, no evidence)
    reputation: float | None = None

    def value(self, criterion: str) -> float:
        """The candidate's value of one ranking criterion."""
        if criterion == REPUTATION:
            return 0.5 if self.reputation is None else self.reputation
        return self.qos.criterion(criterion)


@dataclass
class Match:
    """A candidate that passed, its score and why."""

    candidate: Candidate
    score: float
    reasons: dict[str, Any]


@dataclass
class Rejection:
    """A candidate that did not pass and the first reason."""

    candidate: Candidate
    reason: str


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def check_requirement(req: Requirement) -> None:
    """Refuse a requirement that cannot be evaluated, with every reason."""
    problems = []
    if (req.near is None) != (req.radius_km is None):
        problems.append("near and radius_km: give both or neither")
    if req.radius_km is not None and req.radius_km <= 0:
        problems.append("radius_km: more than 0")
    for name, w in req.weights.items():
        if name not in RANKING:
            problems.append(f"weights/{name}: unknown criterion (known: {', '.join(RANKING)})")
        elif not math.isfinite(w) or w < 0:
            problems.append(f"weights/{name}: a finite number, at least 0")
    if req.weights and not problems and sum(req.weights.values()) <= 0:
        problems.append("weights: at least one must be more than 0")
    if req.window is not None and req.window.start >= req.window.end:
        problems.append("window: start must come before end")
    if problems:
        raise InvalidInput("the requirement cannot be matched", errors=problems)


def normalised_weights(weights: dict[str, float]) -> dict[str, float]:
    """User weights scaled to sum to 1; criteria left out weigh 0; no weights at all means equal weights."""
    if not weights:
        return dict.fromkeys(CRITERIA, 1 / len(CRITERIA))
    total = sum(weights.values())
    named = RANKING if weights.get(REPUTATION) else CRITERIA
    return {c: weights.get(c, 0.0) / total for c in named}


def functional(req: Requirement, c: Candidate, lineage: Lineage) -> tuple[list[str] | None, str]:
    """The type path from the required type down to the offer's, or None and why not."""
    chain = lineage(c.capability_type)
    if req.type not in chain:
        return None, f"type {c.capability_type} is not a {req.type}"
    path = list(reversed(chain[: chain.index(req.type) + 1]))
    for name, unit in req.parameters.items():
        if name not in c.inputs:
            return None, f"input {name} is not accepted"
        if unit is not None and c.inputs[name] != unit:
            return None, f"input {name} is in {c.inputs[name]}, not {unit}"
    missing = sorted(c.required_inputs - set(req.parameters))
    if req.parameters and missing:
        return None, f"the offer also needs {', '.join(missing)}"
    return path, ""


def filters(req: Requirement, c: Candidate, now: datetime) -> tuple[list[dict[str, Any]], str]:
    """Each QoS, place and time filter with its bound and the offer's value; the first failure, if any."""
    q = c.qos
    checks: list[tuple[str, Any, Any, bool]] = []
    if req.currency is not None:
        checks.append(("currency", req.currency, q.currency, q.currency == req.currency))
    if req.max_price is not None:
        checks.append(("max_price", req.max_price, q.price, q.price <= req.max_price))
    if req.max_time_h is not None:
        checks.append(("max_time_h", req.max_time_h, q.time_h, q.time_h <= req.max_time_h))
    if req.min_reliability is not None:
        checks.append(
            ("min_reliability", req.min_reliability, q.reliability, q.reliability >= req.min_reliability)
        )
    if req.min_availability is not None:
        ok = q.availability >= req.min_availability
        checks.append(("min_availability", req.min_availability, q.availability, ok))
    if req.min_capacity is not None:
        checks.append(("min_capacity", req.min_capacity, q.capacity, q.capacity >= req.min_capacity))
    if req.deadline is not None:
        start = req.window.start if req.window else now
        done = start + timedelta(hours=q.time_h)
        checks.append(("deadline", req.deadline.isoformat(), done.isoformat(), done <= req.deadline))
    if req.near is not None and req.radius_km is not None:
        if c.latitude is None or c.longitude is None:
            checks.append(("radius_km", req.radius_km, None, False))
        else:
            d = haversine_km(req.near, (c.latitude, c.longitude))
            checks.append(("radius_km", req.radius_km, round(d, 3), d <= req.radius_km))
    if req.window is not None:
        w = req.window
        checks.append(("window", [w.start.isoformat(), w.end.isoformat()], None, open_for(c.calendar, w)))
    report = [{"filter": n, "bound": b, "value": v, "passed": ok} for n, b, v, ok in checks]
    failed = next((f"{n} ({v} against {b})" for n, b, v, ok in checks if not ok), "")
    return report, failed


def saw(candidates: Sequence[Candidate], weights: dict[str, float]) -> list[tuple[float, dict[str, Any]]]:
    """Score by simple additive weighting of min-max normalised criteria; per candidate the breakdown."""
    w = normalised_weights(weights)
    criteria = tuple(w)
    values = {c: [cand.value(c) for cand in candidates] for c in criteria}
    bounds = {c: (min(v), max(v)) for c, v in values.items() if v}
    scored = []
    for i, _ in enumerate(candidates):
        breakdown: dict[str, Any] = {}
        score = 0.0
        for c in criteria:
            lo, hi = bounds[c]
            x = values[c][i]
            # equal values everywhere tell the candidates nothing apart: each gets the full mark
            benefit = c in BENEFIT or c == REPUTATION
            r = 1.0 if hi == lo else ((x - lo) / (hi - lo) if benefit else (hi - x) / (hi - lo))
            breakdown[c] = {
                "value": x,
                "kind": "benefit" if benefit else "cost",
                "normalised": r,
                "weight": w[c],
                "contribution": w[c] * r,
            }
            score += w[c] * r
        scored.append((score, breakdown))
    return scored


def match(
    req: Requirement, candidates: Sequence[Candidate], lineage: Lineage, now: datetime
) -> tuple[list[Match], list[Rejection]]:
    """Ranked matches (best first) and the rejected candidates with their reason."""
    check_requirement(req)
    passed: list[tuple[Candidate, list[str], list[dict[str, Any]]]] = []
    rejected: list[Rejection] = []
    for c in candidates:
        path, why = functional(req, c, lineage)
        if path is None:
            rejected.append(Rejection(c, why))
            continue
        report, failed = filters(req, c, now)
        if failed:
            rejected.append(Rejection(c, f"filter {failed}"))
            continue
        passed.append((c, path, report))
    scores = saw([c for c, _, _ in passed], req.weights)
    matches = [
        Match(
            candidate=c,
            score=score,
            reasons={
                "type_path": path,
                "parameters": [
                    {"name": n, "unit": c.inputs[n], "required": n in c.required_inputs}
                    for n in req.parameters
                ],
                "filters": report,
                "criteria": breakdown,
            },
        )
        for (c, path, report), (score, breakdown) in zip(passed, scores, strict=True)
    ]
    matches.sort(key=lambda m: (-m.score, m.candidate.qos.price, m.candidate.offer_id))
    return matches, rejected
