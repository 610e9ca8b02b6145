"""Aggregation over the task graph and normalisation, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from iplus.core.errors import InvalidInput
from iplus.platform.systems.aggregate import (
    LOG_FLOOR,
    Option,
    aggregate,
    bounds,
    factors,
    scores,
    utility,
    violations,
)
from iplus.platform.systems.requirement import GlobalConstraints, parse_requirement


def opt(oid: str, t: float, c: float, r: float, a: float, rep: float) -> Option:
    return Option(oid, 1, "p", oid, t, c, r, a, rep)


def task(tid: str) -> dict[str, object]:
    return {"task": {"id": tid, "capability": "c"}}


# seq(a, par(b, c), choice(0.4: d, 0.6: loop 2 (e)))
GRAPH = parse_requirement(
    {
        "name": "g",
        "graph": {
            "sequence": [
                task("a"),
                {"parallel": [task("b"), task("c")]},
                {
                    "choice": [
                        {"p": 0.4, "do": task("d")},
                        {"p": 0.6, "do": {"loop": {"count": 2, "do": task("e")}}},
                    ]
                },
            ]
        },
    }
)
PICK = {
    "a": opt("a", 1, 10, 0.9, 0.99, 0.8),
    "b": opt("b", 2, 20, 0.95, 0.98, 0.6),
    "c": opt("c", 3, 5, 0.99, 0.97, 0.4),
    "d": opt("d", 4, 40, 0.8, 0.9, 1.0),
    "e": opt("e", 1.5, 8, 0.9, 0.95, 0.5),
}


def test_aggregate_by_hand() -> None:
    agg = aggregate(GRAPH.root, PICK)
    # time: 1 + max(2, 3) + 0.4 * 4 + 0.6 * (2 * 1.5)
    assert agg["time"] == pytest.approx(7.4)
    # cost: 10 + 20 + 5 + 0.4 * 40 + 0.6 * (2 * 8)
    assert agg["cost"] == pytest.approx(60.6)
    # reliability: products, the choice as a probability-weighted geometric mean, the loop as a power
    assert agg["reliability"] == pytest.approx(0.9 * 0.95 * 0.99 * 0.8**0.4 * (0.9**2) ** 0.6)
    assert agg["availability"] == pytest.approx(0.99 * 0.98 * 0.97 * 0.9**0.4 * (0.95**2) ** 0.6)
    # reputation: mean over tasks weighted by the chance each runs: (0.8+0.6+0.4+0.4*1+0.6*0.5) / 4
    assert agg["reputation"] == pytest.approx(0.625)


def test_geometric_choice_is_below_the_arithmetic_expectation() -> None:
    agg = aggregate(GRAPH.root, PICK)
    arithmetic = 0.9 * 0.95 * 0.99 * (0.4 * 0.8 + 0.6 * 0.9**2)
    assert agg["reliability"] <= arithmetic


def test_factors_are_expected_runs_and_reputation_shares() -> None:
    f = factors(GRAPH.root)
    assert f.runs == pytest.approx({"a": 1, "b": 1, "c": 1, "d": 0.4, "e": 1.2})
    assert f.share == pytest.approx({"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.1, "e": 0.15})


def test_zero_reliability_aggregates_to_zero() -> None:
    pick = dict(PICK, d=opt("d", 4, 40, 0.0, 0.0, 1.0))
    agg = aggregate(GRAPH.root, pick)
    assert agg["reliability"] == 0.0 and agg["availability"] == 0.0


def test_a_missing_task_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        aggregate(GRAPH.root, {"a": PICK["a"]})
    assert err.value.extra["errors"] == [f"choice/{t}: no option" for t in "bcde"]


SEQ = parse_requirement({"name": "s", "graph": {"sequence": [task("x"), task("y")]}})
X = [opt("x1", 1, 10, 0.9, 1.0, 0.2), opt("x2", 3, 4, 0.99, 1.0, 0.6)]
Y = [opt("y1", 2, 6, 0.8, 1.0, 0.5), opt("y2", 2, 2, 0.0, 1.0, 0.5)]


def test_bounds_normalisation_and_utility_by_hand() -> None:
    b = bounds(SEQ.root, {"x": X, "y": Y})
    assert b.worst["time"] == 5 and b.best["time"] == 3
    assert b.worst["cost"] == 16 and b.best["cost"] == 6
    # reliability on the log scale, zero floored at LOG_FLOOR
    assert b.worst["reliability"] == pytest.approx(math.log(0.9) + math.log(LOG_FLOOR))
    assert b.best["reliability"] == pytest.approx(math.log(0.99) + math.log(0.8))
    assert b.spread("availability") == 0 and b.spread("time") == 2
    plan = {"x": X[1], "y": Y[0]}
    s = scores(SEQ.root, plan, b)
    # time 5 is the worst (0); cost 10 of [6, 16] scores 0.6; reliability is the best (1);
    # availability is the same everywhere (1); reputation (0.6 + 0.5) / 2 = 0.55 of [0.35, 0.55] is 1
    assert s == pytest.approx(
        {"time": 0.0, "cost": 0.6, "reliability": 1.0, "availability": 1.0, "reputation": 1.0}
    )
    weights = {"time": 0.5, "cost": 0.25, "reliability": 0.25, "availability": 0.0, "reputation": 0.0}
    assert utility(SEQ.root, plan, b, weights) == pytest.approx(0.25 * 0.6 + 0.25)
    # zero reliability scores as the floor: the worst plan on that attribute
    worst = {"x": X[0], "y": Y[1]}
    assert scores(SEQ.root, worst, b)["reliability"] == pytest.approx(0.0)


def test_violations_respect_a_relative_tolerance() -> None:
    g = GlobalConstraints(
        deadline_h=5, budget=100, min_reliability=0.9, min_availability=None, currency="EUR"
    )
    agg = {
        "time": 5 + 4e-9,
        "cost": 100 + 5e-8,
        "reliability": 0.9 - 1e-10,
        "availability": 0.0,
        "reputation": 0,
    }
    assert violations(agg, g) == []
    agg = {
        "time": 5 + 6e-9,
        "cost": 100 + 2e-7,
        "reliability": 0.9 - 2e-9,
        "availability": 0.0,
        "reputation": 0,
    }
    assert [v.name for v in violations(agg, g)] == ["deadline_h", "budget", "min_reliability"]
