"""Forecasts against independent results: critical paths, lognormal sums and maxima, retries, Beta posteriors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from iplus.core.errors import InvalidInput
from iplus.engines.sim.service_plan import wilson
from iplus.platform.systems.aggregate import Option
from iplus.platform.systems.forecast import forecast
from iplus.platform.systems.history import QosHistory, from_promise
from iplus.platform.systems.requirement import RequirementGraph, parse_requirement

Z999 = 3.2905  # fixed seeds make these deterministic; a 99.9% band keeps them robust to the seed chosen
CV = 0.25  # the documented spread around a promised time


def opt(offer: str, hours: float, cost: float = 0.0, reliability: float = 1.0, capacity: int = 1) -> Option:
    return Option(offer, 1, "org", offer, hours, cost, reliability, 1.0, 0.5, capacity)


def task(tid: str) -> dict[str, Any]:
    return {"task": {"id": tid, "capability": "service"}}


def req(graph: dict[str, Any], deadline_h: float | None = None) -> RequirementGraph:
    doc: dict[str, Any] = {"name": "plan", "graph": graph}
    if deadline_h is not None:
        doc["constraints"] = {"deadline_h": deadline_h}
    return parse_requirement(doc)


def always(hours: float) -> QosHistory:
    """Ten durations of exactly ``hours``; no outcomes recorded, so the promised reliability (1) holds."""
    return QosHistory((hours,) * 10, 0, 0)


def lognormal_cdf(x: float, mean: float, cv: float) -> float:
    """CDF of the lognormal with this mean and CV, written out with math.erf."""
    s2 = math.log(1 + cv * cv)
    return 0.5 * (1 + math.erf((math.log(x) - (math.log(mean) - s2 / 2)) / math.sqrt(2 * s2)))


def within(p: float, n: int, truth: float) -> bool:
    low, high = wilson(round(p * n), n, Z999)
    return low <= truth <= high


def test_history_success_rate_is_the_beta_posterior_mean_or_the_promise() -> None:
    assert QosHistory((), 7, 1).success_rate(0.99) == pytest.approx(0.8)  # (7 + 1) / (8 + 2)
    assert QosHistory((), 0, 0).success_rate(0.95) == 0.95
    assert from_promise(opt("o", 1.0)) == QosHistory()
    assert QosHistory((1.0, 3.0), 2, 0, (4.0,)).mean_duration_h(9.0) == 2.0
    assert QosHistory().mean_cost(5.0) == 5.0


def test_deterministic_history_gives_exactly_the_critical_path() -> None:
    graph = {
        "sequence": [
            task("a"),
            {"parallel": [task("b"), {"sequence": [task("c"), task("d")]}]},
            {"loop": {"count": 3, "do": task("e")}},
        ]
    }
    choice = {
        "a": opt("oa", 9, 10),
        "b": opt("ob", 9, 5),
        "c": opt("oc", 9, 1),
        "d": opt("od", 9, 1),
        "e": opt("oe", 9, 2),
    }
    history = {"oa": always(1.0), "ob": always(2.0), "oc": always(0.5), "od": always(0.5), "oe": always(0.25)}
    # critical path 1 + max(2, 0.5 + 0.5) + 3 x 0.25 = 3.75 h
    f = forecast(req(graph, deadline_h=3.75), choice, history, replications=200)
    assert (f.makespan_p50_h, f.makespan_p90_h) == (3.75, 3.75)
    assert f.p_deadline == 1.0 and f.p_success == 1.0
    assert f.expected_cost == 10 + 5 + 1 + 1 + 3 * 2
    assert f.expected_cost_ci == (23.0, 23.0)
    late = forecast(req(graph, deadline_h=3.7), choice, history, replications=50)
    assert late.p_deadline == 0.0
    assert late.p_deadline_ci == wilson(0, 50)
    assert forecast(req(graph), choice, history, replications=10).p_deadline is None


def test_sequence_of_two_promised_lognormals_matches_a_numpy_monte_carlo() -> None:
    m1, m2, d = 1.5, 2.5, 4.3
    f = forecast(
        req({"sequence": [task("a"), task("b")]}, deadline_h=d),
        {"a": opt("oa", m1), "b": opt("ob", m2)},
        {},
        replications=1000,
        seed=9,
    )
    rng = np.random.default_rng(77)
    s2 = math.log(1 + CV * CV)
    a = rng.lognormal(math.log(m1) - s2 / 2, math.sqrt(s2), 400_000)
    b = rng.lognormal(math.log(m2) - s2 / 2, math.sqrt(s2), 400_000)
    total = a + b
    assert f.p_deadline is not None and within(f.p_deadline, 1000, float(np.mean(total <= d)))
    # the p50 of the forecast lies between the truth's 45th and 55th percentiles
    assert f.makespan_p50_h is not None
    assert np.quantile(total, 0.45) <= f.makespan_p50_h <= np.quantile(total, 0.55)


def test_parallel_of_two_lognormals_is_the_product_of_their_cdfs() -> None:
    m1, m2, d = 2.0, 3.0, 3.4
    f = forecast(
        req({"parallel": [task("a"), task("b")]}, deadline_h=d),
        {"a": opt("oa", m1), "b": opt("ob", m2)},
        {"oa": QosHistory((2.0,) * 4)},  # 4 durations: too few to bootstrap, the promise is used
        replications=1000,
        seed=4,
    )
    truth = lognormal_cdf(d, m1, CV) * lognormal_cdf(d, m2, CV)
    assert f.p_deadline is not None and within(f.p_deadline, 1000, truth)


def test_success_is_the_product_of_one_minus_q_squared_with_one_retry() -> None:
    # q from the promise for a (0.3), from the Beta posterior for b: (3 + 1) / (4 + 2) = 2/3, q = 1/3
    graph = {"sequence": [task("a"), {"loop": {"count": 2, "do": task("b")}}]}
    choice = {"a": opt("oa", 1.0, 1.0, reliability=0.7), "b": opt("ob", 1.0, 1.0, reliability=0.99)}
    history = {"ob": QosHistory((), 3, 1)}
    f = forecast(req(graph, deadline_h=100), choice, history, replications=1000, seed=8)
    truth = (1 - 0.3**2) * (1 - (1 / 3) ** 2) ** 2
    assert within(f.p_success, 1000, truth)
    assert f.p_success_ci[0] <= f.p_success <= f.p_success_ci[1]
    # a run that fails does not meet the deadline however early it stops
    assert f.p_deadline == f.p_success


def test_expected_cost_of_a_choice_is_the_probability_weighted_price() -> None:
    graph = {"choice": [{"p": 0.25, "do": task("a")}, {"p": 0.75, "do": task("b")}]}
    f = forecast(
        req(graph), {"a": opt("oa", 1.0, 100), "b": opt("ob", 1.0, 20)}, {}, replications=1000, seed=1
    )
    truth = 0.25 * 100 + 0.75 * 20
    assert f.expected_cost_ci is not None
    low, high = f.expected_cost_ci
    half = (high - low) / 2 * Z999 / 1.96
    assert abs(f.expected_cost - truth) <= half


def test_tasks_on_one_offer_queue_for_its_capacity() -> None:
    graph = {"parallel": [task("a"), task("b")]}
    history = {"o": always(1.0)}
    one = forecast(req(graph), {"a": opt("o", 1.0), "b": opt("o", 1.0)}, history, replications=10)
    two = forecast(
        req(graph), {"a": opt("o", 1.0, capacity=2), "b": opt("o", 1.0, capacity=2)}, history, replications=10
    )
    assert (one.makespan_p50_h, two.makespan_p50_h) == (2.0, 1.0)


def test_same_seed_same_forecast() -> None:
    r = req({"sequence": [task("a"), task("b")]}, deadline_h=3)
    choice = {"a": opt("oa", 1.0, 3, 0.9), "b": opt("ob", 1.5, 2, 0.8)}
    assert forecast(r, choice, {}, replications=100, seed=3) == forecast(
        r, choice, {}, replications=100, seed=3
    )


def test_bad_input_names_every_problem() -> None:
    r = req({"sequence": [task("a"), task("b")]})
    with pytest.raises(InvalidInput) as err:
        forecast(
            r,
            {"a": opt("oa", -1.0, reliability=2.0), "z": opt("oz", 1.0)},
            {"oa": QosHistory((1.0, math.inf), -1, 0), "unused": QosHistory((), -5, 0)},
        )
    assert err.value.extra["errors"] == [
        "choice/b: no option chosen",
        "choice/z: not a task of the requirement",
        "choice/a/time: at least 0",
        "choice/a/reliability: from 0 to 1",
        "history/oa/successes: a whole number >= 0",
        "history/oa/durations_h/1: a finite number >= 0",
    ]
    with pytest.raises(InvalidInput, match="replications"):
        forecast(r, {"a": opt("oa", 1.0), "b": opt("ob", 1.0)}, {}, replications=0)


def test_a_plan_that_always_fails_has_no_makespan_quantiles() -> None:
    f = forecast(
        req({"sequence": [task("a")]}, deadline_h=5),
        {"a": opt("oa", 1.0, 4.0, reliability=0.0)},
        {},
        replications=20,
    )
    assert (f.p_success, f.p_deadline, f.makespan_p50_h, f.makespan_p90_h) == (0.0, 0.0, None, None)
    assert f.expected_cost == 8.0  # both attempts billed
    assert f.to_json() == {
        "p_deadline": 0.0,
        "p_deadline_ci": list(wilson(0, 20)),
        "p_success": 0.0,
        "p_success_ci": list(wilson(0, 20)),
        "expected_cost": 8.0,
        "expected_cost_ci": [8.0, 8.0],
        "makespan_p50_h": None,
        "makespan_p90_h": None,
        "replications": 20,
    }
