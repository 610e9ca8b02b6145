"""Optimal selection against an independent brute force, plus hand-made cases for pins, exclusions and why."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iplus.core.errors import InvalidInput
from iplus.platform.systems import selection
from iplus.platform.systems.requirement import parse_requirement
from iplus.platform.systems.selection import Option, select

ATTRS = ("time", "cost", "reliability", "availability", "reputation")
FLOOR = 1e-6  # documented: reliability and availability below this score as this
TOL = 1e-9  # documented: a constraint holds to 1e-9 relative to its bound


def opt(oid: str, t: float, c: float, r: float = 1.0, a: float = 1.0, rep: float = 0.5) -> Option:
    return Option(oid, 1, "p", oid, t, c, r, a, rep)


def task(tid: str, **constraints: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": tid, "capability": "c"}
    if constraints:
        body["constraints"] = constraints
    return {"task": body}


# ---- the brute force: its own recursion over the requirement JSON, nothing from the module ----


def qos(node: dict[str, Any], pick: dict[str, Option], arithmetic: bool = False) -> dict[str, float]:
    """time, cost, reliability, availability, reputation sum and weight of one node, by the documented
    rules; "lrel" and "lav" are the scored logs (each value floored at FLOOR, summed in log space)."""
    ((kind, body),) = node.items()
    if kind == "task":
        o = pick[body["id"]]
        r, a = o.reliability, o.availability
        return {
            "time": o.time_h,
            "cost": o.cost,
            "rel": r,
            "av": a,
            "lrel": math.log(max(r, FLOOR)),
            "lav": math.log(max(a, FLOOR)),
            "rs": o.reputation,
            "rw": 1.0,
        }
    if kind in ("sequence", "parallel"):
        parts = [qos(n, pick, arithmetic) for n in body]
        return {
            "time": (sum if kind == "sequence" else max)(p["time"] for p in parts),
            "cost": sum(p["cost"] for p in parts),
            "rel": math.prod(p["rel"] for p in parts),
            "av": math.prod(p["av"] for p in parts),
            "lrel": sum(p["lrel"] for p in parts),
            "lav": sum(p["lav"] for p in parts),
            "rs": sum(p["rs"] for p in parts),
            "rw": sum(p["rw"] for p in parts),
        }
    if kind == "choice":
        parts2 = [(b["p"], qos(b["do"], pick, arithmetic)) for b in body]
        if arithmetic:
            rel = sum(p * q["rel"] for p, q in parts2)
            av = sum(p * q["av"] for p, q in parts2)
        else:
            rel = math.prod(q["rel"] ** p for p, q in parts2)
            av = math.prod(q["av"] ** p for p, q in parts2)
        out = {k: sum(p * q[k] for p, q in parts2) for k in ("time", "cost", "lrel", "lav", "rs", "rw")}
        return out | {"rel": rel, "av": av}
    q = qos(body["do"], pick, arithmetic)
    k = body["count"]
    return q | {
        "time": k * q["time"],
        "cost": k * q["cost"],
        "rel": q["rel"] ** k,
        "av": q["av"] ** k,
        "lrel": k * q["lrel"],
        "lav": k * q["lav"],
    }


def scored(doc: dict[str, Any], pick: dict[str, Option]) -> dict[str, float]:
    q = qos(doc["graph"], pick)
    return {
        "time": q["time"],
        "cost": q["cost"],
        "reliability": q["lrel"],
        "availability": q["lav"],
        "reputation": q["rs"] / q["rw"],
    }


def feasible(doc: dict[str, Any], pick: dict[str, Option]) -> bool:
    g = doc.get("constraints", {})
    q = qos(doc["graph"], pick)
    ok = True
    if "deadline_h" in g:
        ok &= q["time"] <= g["deadline_h"] + TOL * max(1, g["deadline_h"])
    if "budget" in g:
        ok &= q["cost"] <= g["budget"] + TOL * max(1, g["budget"])
    if "min_reliability" in g:
        ok &= q["rel"] >= g["min_reliability"] - TOL
    if "min_availability" in g:
        ok &= q["av"] >= g["min_availability"] - TOL
    return bool(ok)


def brute_force(doc: dict[str, Any], options: dict[str, list[Option]]) -> float | None:
    """The best utility over every combination (None: no feasible one)."""
    ids = list(options)
    plans = [dict(zip(ids, combo, strict=True)) for combo in itertools.product(*(options[i] for i in ids))]
    values = [scored(doc, p) for p in plans]
    weights = doc.get("weights") or dict.fromkeys(ATTRS, 1.0)
    total = sum(weights.values())
    lower_is_better = {"time", "cost"}
    worst = {a: (max if a in lower_is_better else min)(v[a] for v in values) for a in ATTRS}
    best = {a: (min if a in lower_is_better else max)(v[a] for v in values) for a in ATTRS}

    def util(v: dict[str, float]) -> float:
        u = 0.0
        for a in ATTRS:
            w = weights.get(a, 0.0) / total
            span = best[a] - worst[a]
            u += w * (
                1.0 if abs(span) <= 1e-12 * max(1, abs(best[a]), abs(worst[a])) else (v[a] - worst[a]) / span
            )
        return u

    good = [util(v) for p, v in zip(plans, values, strict=True) if feasible(doc, p)]
    return max(good) if good else None


# ---- random instances ----


@st.composite
def instances(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, list[Option]]]:
    rng: random.Random = draw(st.randoms(use_true_random=False))
    n_tasks = draw(st.integers(2, 5))
    ids = [f"t{i}" for i in range(n_tasks)]

    def build(group: list[str], depth: int) -> dict[str, Any]:
        if len(group) == 1:
            leaf = task(group[0])
            if depth < 3 and rng.random() < 0.25:
                return {"loop": {"count": rng.randint(2, 3), "do": leaf}}
            return leaf
        cut = rng.randint(1, len(group) - 1)
        kids = [build(group[:cut], depth + 1), build(group[cut:], depth + 1)]
        kind = rng.choice(["sequence", "parallel", "choice", "loop-sequence"])
        if kind == "choice":
            p = round(rng.uniform(0.1, 0.9), 3)
            return {"choice": [{"p": p, "do": kids[0]}, {"p": 1 - p, "do": kids[1]}]}
        if kind == "loop-sequence":
            return {"loop": {"count": rng.randint(2, 3), "do": {"sequence": kids}}}
        return {kind: kids}

    graph = build(ids, 0)
    options = {}
    for t in ids:
        opts = []
        for j in range(rng.randint(1, 4)):
            rel = 0.0 if rng.random() < 0.05 else round(rng.uniform(0.6, 1.0), 3)
            opts.append(
                opt(
                    f"{t}-o{j}",
                    round(rng.uniform(0.5, 10), 2),
                    round(rng.uniform(1, 100), 2),
                    rel,
                    round(rng.uniform(0.7, 1.0), 3),
                    round(rng.random(), 2),
                )
            )
        options[t] = opts
    doc: dict[str, Any] = {"name": "random", "graph": graph}
    weights = {a: rng.choice([0, 0, 1, 2, 5]) for a in ATTRS}
    if sum(weights.values()) > 0:
        doc["weights"] = weights
    # bounds around a random plan's values, so constraints bind often and fail sometimes
    sample = {t: rng.choice(o) for t, o in options.items()}
    q = qos(graph, sample)
    constraints: dict[str, Any] = {}
    if rng.random() < 0.6:
        constraints["deadline_h"] = round(q["time"] * rng.uniform(0.8, 1.3), 3)
    if rng.random() < 0.6:
        constraints["budget"], constraints["currency"] = round(q["cost"] * rng.uniform(0.8, 1.3), 2), "EUR"
    if rng.random() < 0.4 and q["rel"] > 0:
        constraints["min_reliability"] = round(min(1.0, q["rel"] * rng.uniform(0.9, 1.1)), 4)
    if rng.random() < 0.4:
        constraints["min_availability"] = round(min(1.0, q["av"] * rng.uniform(0.9, 1.1)), 4)
    doc["constraints"] = constraints
    return doc, options


@settings(max_examples=150, deadline=None)
@given(instances())
def test_select_matches_brute_force(instance: tuple[dict[str, Any], dict[str, list[Option]]]) -> None:
    doc, options = instance
    req = parse_requirement(doc)
    plan = select(req, options)
    best = brute_force(doc, options)
    assert plan.method == "cp-sat"
    if best is None:
        assert plan.status == "infeasible", (plan, doc)
        assert plan.choice == {} and plan.explanation
        return
    assert plan.status == "optimal", (plan.explanation, doc)
    assert plan.utility == pytest.approx(best, abs=1e-6)
    assert plan.bound == pytest.approx(plan.utility) and plan.gap == 0
    # never over a constraint, by this test's own arithmetic, and also under arithmetic expectations
    assert feasible(doc, plan.choice)
    g = doc["constraints"]
    arithmetic = qos(doc["graph"], plan.choice, arithmetic=True)
    if "min_reliability" in g:
        assert arithmetic["rel"] >= g["min_reliability"] - TOL
    if "min_availability" in g:
        assert arithmetic["av"] >= g["min_availability"] - TOL
    mine = qos(doc["graph"], plan.choice)
    assert plan.aggregate["time"] == pytest.approx(mine["time"])
    assert plan.aggregate["cost"] == pytest.approx(mine["cost"])
    assert sum(row["chosen"] for rows in plan.ranking.values() for row in rows) == len(options)


# ---- hand-made cases ----

SEQ2 = {
    "name": "two",
    "graph": {"sequence": [task("a"), task("b")]},
    "constraints": {"budget": 100, "currency": "EUR"},
    "weights": {"time": 1},
}
A = [opt("fast", 1, 80), opt("slow", 5, 20)]
B = [opt("fast", 1, 70), opt("slow", 4, 10)]


def test_the_budget_decides_which_task_gets_the_fast_service() -> None:
    plan = select(parse_requirement(SEQ2), {"a": A, "b": B})
    # fast+fast costs 150, fast a + slow b = 90 (time 5), slow a + fast b = 90 (time 6): the first wins
    assert plan.status == "optimal"
    assert {t: o.offer_id for t, o in plan.choice.items()} == {"a": "fast", "b": "slow"}
    assert plan.aggregate["time"] == 5 and plan.aggregate["cost"] == 90
    # utility: time 5 between worst 9 and best 2 -> 4/7
    assert plan.utility == pytest.approx(4 / 7)
    ranking = plan.ranking["a"]
    assert [(r["offer_id"], r["chosen"], r["note"]) for r in ranking] == [
        ("fast", True, "chosen"),
        ("slow", False, "not in the best plan"),
    ]
    assert ranking[0]["scores"]["time"] == 1.0 and ranking[1]["scores"]["time"] == 0.0


def test_fixed_pins_a_task_and_excluded_drops_offers() -> None:
    req = parse_requirement(SEQ2)
    done = opt("measured", 2, 75)
    plan = select(req, {"a": A, "b": B}, fixed={"a": done})
    assert plan.choice["a"] is done and plan.choice["b"].offer_id == "slow"
    assert plan.ranking["a"][0]["note"] == "fixed: already done"
    plan = select(req, {"a": A, "b": B}, excluded={"a": {"fast"}})
    assert {t: o.offer_id for t, o in plan.choice.items()} == {"a": "slow", "b": "fast"}
    assert plan.ranking["a"][-1] | {"qos": None, "scores": None} == {
        "offer_id": "fast",
        "version": 1,
        "org_id": "p",
        "title": "fast",
        "qos": None,
        "scores": None,
        "local_utility": None,
        "chosen": False,
        "note": "excluded",
    }


def test_local_constraints_filter_and_a_task_without_candidates_is_named() -> None:
    doc = {"name": "x", "graph": {"sequence": [task("a", max_price=50), task("b")]}}
    plan = select(parse_requirement(doc), {"a": A, "b": B})
    assert plan.choice["a"].offer_id == "slow"
    assert plan.ranking["a"][-1]["note"] == "max_price 50: the option has 80"
    plan = select(parse_requirement(doc), {"a": A, "b": B}, excluded={"a": {"slow"}})
    assert plan.status == "infeasible"
    assert plan.explanation == ["task a: no candidate left (1 fail max_price 50, 1 excluded)"]
    plan = select(parse_requirement(doc), {"a": A})
    assert plan.explanation == ["task b: no candidate"]


def test_bad_input_is_refused_with_every_problem() -> None:
    req = parse_requirement(SEQ2)
    bad = opt("x", -1, 5, r=1.5)
    with pytest.raises(InvalidInput) as err:
        select(req, {"a": [bad], "b": B}, fixed={"zz": A[0]}, excluded={"yy": {"q"}}, time_limit_s=0)
    assert err.value.extra["errors"] == [
        "options/a/0/time: at least 0",
        "options/a/0/reliability: from 0 to 1",
        "fixed/zz: not a task of the requirement",
        "excluded/yy: not a task of the requirement",
        "time_limit_s: more than 0 and at most 3600",
    ]


def test_a_single_binding_constraint_is_explained_with_the_best_value() -> None:
    doc = dict(SEQ2, constraints={"budget": 25, "currency": "EUR", "deadline_h": 20})
    plan = select(parse_requirement(doc), {"a": A, "b": B})
    assert plan.status == "infeasible"
    assert plan.explanation == ["budget 25 EUR: the cheapest plan costs 30 EUR"]
    doc = dict(SEQ2, constraints={"deadline_h": 1.5})
    assert select(parse_requirement(doc), {"a": A, "b": B}).explanation == [
        "deadline 1.5 h: the fastest plan takes 2 h"
    ]
    doc = dict(SEQ2, constraints={"min_reliability": 0.95})
    low = {"a": [opt("a", 1, 1, r=0.9)], "b": [opt("b", 1, 1, r=0.99)]}
    assert select(parse_requirement(doc), low).explanation == [
        "minimum reliability 0.95: the most reliable plan reaches 0.891"
    ]


def test_constraints_that_only_clash_together_are_explained_as_a_set() -> None:
    doc = dict(SEQ2, constraints={"budget": 80, "currency": "EUR", "deadline_h": 6, "min_availability": 0.5})
    plan = select(parse_requirement(doc), {"a": A, "b": B})
    # within 6 h only fast+fast (2 h, 150) or fast+slow (5 h, 90) or slow+fast (6 h, 90): all over 80
    assert plan.status == "infeasible"
    assert plan.explanation == [
        "deadline 6 h and budget 80 EUR cannot both be met: meeting budget 80 EUR, the fastest plan takes 9 h; "
        "meeting deadline 6 h, the cheapest plan costs 90 EUR"
    ]


def test_zero_reliability_is_never_chosen_under_a_minimum_and_scores_as_the_floor() -> None:
    doc = {"name": "z", "graph": {"sequence": [task("a"), task("b")]}, "weights": {"cost": 1}}
    options = {"a": [opt("dead", 1, 1, r=0.0), opt("ok", 1, 5, r=0.9)], "b": [opt("b", 1, 1)]}
    assert select(parse_requirement(doc), options).choice["a"].offer_id == "dead"
    doc["constraints"] = {"min_reliability": 0.5}
    assert select(parse_requirement(doc), options).choice["a"].offer_id == "ok"


def test_a_plan_inside_the_rounding_margin_but_over_the_budget_is_cut_off() -> None:
    # six "close" options cost the budget plus 2.5e-9 together: more than the 1e-9 tolerance, less than
    # the model's rounding slack (half a unit per task), so the scaled model accepts the combination
    # and the float check must cut it off; each alone is well within the budget
    n, budget = 6, 1.0
    doc = {
        "name": "edge",
        "graph": {"sequence": [task(f"t{i}") for i in range(n)]},
        "constraints": {"budget": budget, "currency": "EUR"},
        "weights": {"reputation": 1},
    }
    close = (budget + 2.5e-9) / n
    options = {
        f"t{i}": [opt(f"close{i}", 1, close, rep=1.0), opt(f"safe{i}", 1, 0.1, rep=0.9)] for i in range(n)
    }
    req = parse_requirement(doc)
    plan = select(req, options)
    assert plan.status == "optimal"
    assert sorted(o.offer_id[:4] for o in plan.choice.values()) == ["clos"] * (n - 1) + ["safe"]
    assert plan.aggregate["cost"] <= budget
    problem = selection._Problem(req, {k: list(v) for k, v in options.items()})
    model = selection._Model(problem, problem.active())
    model.maximise_utility()
    solved = model.solve(until=float("inf"))
    assert solved.cuts == 1 and solved.status == "optimal"
    # exactly on the budget is within it
    exact = {
        f"t{i}": [opt(f"exact{i}", 1, budget / n, rep=1.0), opt(f"safe{i}", 1, 0.1, rep=0.9)]
        for i in range(n)
    }
    assert all(o.offer_id.startswith("exact") for o in select(req, exact).choice.values())


def test_large_graphs_use_the_heuristic_and_still_reach_the_separable_optimum() -> None:
    # without global constraints and with only linear attributes, each task's best local option is
    # optimal: the test computes that by hand
    rng = random.Random(7)
    n = 24
    doc = {
        "name": "big",
        "graph": {"sequence": [task(f"t{i}") for i in range(n)]},
        "weights": {"cost": 1, "reputation": 1},
    }
    options = {
        f"t{i}": [opt(f"t{i}-{j}", 1, rng.uniform(1, 10), rep=rng.random()) for j in range(5)]
        for i in range(n)
    }
    req = parse_requirement(doc)
    plan = select(req, options, time_limit_s=5)
    assert plan.method == "heuristic" and plan.status == "optimal"
    worst_c = sum(max(o.cost for o in v) for v in options.values())
    best_c = sum(min(o.cost for o in v) for v in options.values())
    worst_r = sum(min(o.reputation for o in v) for v in options.values()) / n
    best_r = sum(max(o.reputation for o in v) for v in options.values()) / n

    def local(o: Option) -> float:
        return 0.5 * (-o.cost / (worst_c - best_c)) + 0.5 * (o.reputation / n / (best_r - worst_r))

    pick = {t: max(v, key=local) for t, v in options.items()}
    cost = sum(o.cost for o in pick.values())
    rep = sum(o.reputation for o in pick.values()) / n
    expected = 0.5 * (worst_c - cost) / (worst_c - best_c) + 0.5 * (rep - worst_r) / (best_r - worst_r)
    assert plan.utility == pytest.approx(expected, abs=1e-6)


def test_a_time_limit_too_short_for_proof_reports_a_bound_and_gap() -> None:
    rng = random.Random(3)
    n = 30
    graph = {"sequence": [{"parallel": [task(f"t{i}"), task(f"u{i}")]} for i in range(n // 2)]}
    ids = [f"t{i}" for i in range(n // 2)] + [f"u{i}" for i in range(n // 2)]
    options = {
        t: [
            opt(f"{t}-{j}", rng.uniform(1, 10), rng.uniform(1, 100), rng.uniform(0.95, 1), 1, rng.random())
            for j in range(200)
        ]
        for t in ids
    }
    doc = {
        "name": "hard",
        "graph": graph,
        "constraints": {"deadline_h": 60, "budget": 1000, "currency": "EUR", "min_reliability": 0.6},
    }
    plan = select(parse_requirement(doc), options, time_limit_s=1.0)
    assert plan.method == "heuristic" and plan.status in ("optimal", "feasible")
    assert plan.bound is not None and plan.gap is not None
    assert plan.utility <= plan.bound + 1e-9 and 0 <= plan.gap <= 1
    agg = plan.aggregate
    assert agg["time"] <= 60 + 1e-7 and agg["cost"] <= 1000 + 1e-6 and agg["reliability"] >= 0.6 - 1e-9
    assert plan.solve_ms < 4000
