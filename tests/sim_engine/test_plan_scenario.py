"""Plan simulation against independent results: critical paths, lognormal sums and maxima, retries, costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iplus.core.errors import InvalidInput
from iplus.engines.sim.service_plan import (
    MIN_SAMPLES,
    PlanChoice,
    PlanLoop,
    PlanParallel,
    PlanSequence,
    PlanStep,
    lognormal_params,
    simulate,
    wilson,
)

Z999 = 3.2905  # two-sided 99.9%: fixed seeds make the tests deterministic, this keeps them seed-robust


def fixed(
    task: str, hours: float, price: float = 0.0, p_fail: float = 0.0, resource: str | None = None
) -> PlanStep:
    """A step whose observed durations are all equal: every bootstrap draw is exactly ``hours``."""
    return PlanStep(task, 99.0, p_fail, price, durations_h=(hours,) * MIN_SAMPLES, resource=resource)


def lognormal_cdf(x: float, mean: float, cv: float) -> float:
    """CDF of the lognormal with this mean and CV, from its definition with math.erf."""
    sigma2 = math.log(1 + cv * cv)
    mu = math.log(mean) - sigma2 / 2
    return 0.5 * (1 + math.erf((math.log(x) - mu) / math.sqrt(2 * sigma2)))


def proportion_ok(k: int, n: int, truth: float) -> bool:
    low, high = wilson(k, n, Z999)
    return low <= truth <= high


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe, Statistics in Medicine 17 (1998) 857-872, table I, method 3 (score, no correction)
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=5e-5)


def test_deterministic_durations_give_exactly_the_critical_path() -> None:
    # 1 + max(2, 0.5 + 0.5) + 3 x 0.25 = 3.75 h; every execution billed once
    root = PlanSequence(
        (
            fixed("a", 1.0, 10),
            PlanParallel((fixed("b", 2.0, 5), PlanSequence((fixed("c", 0.5, 1), fixed("d", 0.5, 1))))),
            PlanLoop(fixed("e", 0.25, 2), 3),
        )
    )
    outcomes = simulate(root, replications=50, seed=1)
    assert {o.makespan_h for o in outcomes} == {3.75}
    assert {o.cost for o in outcomes} == {10 + 5 + 1 + 1 + 3 * 2}
    assert all(o.success for o in outcomes)


def test_shared_resource_serialises_parallel_branches() -> None:
    root = PlanParallel((fixed("a", 1.0, resource="o"), fixed("b", 2.0, resource="o")))
    assert {o.makespan_h for o in simulate(root, capacities={"o": 1}, replications=5)} == {3.0}
    assert {o.makespan_h for o in simulate(root, capacities={"o": 2}, replications=5)} == {2.0}


def test_sequence_of_two_lognormals_matches_an_independent_monte_carlo() -> None:
    m1, m2, cv, d = 2.0, 3.0, 0.25, 5.2
    root = PlanSequence((PlanStep("a", m1, 0.0, 0.0), PlanStep("b", m2, 0.0, 0.0)))
    outcomes = simulate(root, replications=1000, seed=7)
    k = sum(o.makespan_h <= d for o in outcomes)
    rng = np.random.default_rng(2024)
    mu1, s1 = lognormal_params(m1, cv)
    mu2, s2 = lognormal_params(m2, cv)
    total = rng.lognormal(mu1, s1, 400_000) + rng.lognormal(mu2, s2, 400_000)
    truth = float(np.mean(total <= d))
    assert proportion_ok(k, len(outcomes), truth)
    # the mean of a lognormal draw is the promised time: E[a + b] = 5 h
    mean = float(np.mean([o.makespan_h for o in outcomes]))
    sd = float(np.std([o.makespan_h for o in outcomes], ddof=1))
    assert abs(mean - (m1 + m2)) <= Z999 * sd / math.sqrt(len(outcomes))


def test_parallel_of_two_lognormals_is_the_product_of_their_cdfs() -> None:
    m1, m2, cv = 2.0, 2.5, 0.25
    root = PlanParallel((PlanStep("a", m1, 0.0, 0.0), PlanStep("b", m2, 0.0, 0.0)))
    outcomes = simulate(root, replications=1000, seed=3)
    for d in (2.2, 2.8, 3.5):
        truth = lognormal_cdf(d, m1, cv) * lognormal_cdf(d, m2, cv)
        assert proportion_ok(sum(o.makespan_h <= d for o in outcomes), len(outcomes), truth), d


def test_one_retry_makes_success_the_product_of_one_minus_q_squared() -> None:
    q = {"a": 0.3, "b": 0.2, "c": 0.25}
    root = PlanSequence(
        (
            PlanStep("a", 1.0, q["a"], 1.0),
            PlanStep("b", 1.0, q["b"], 1.0),
            PlanLoop(PlanStep("c", 1.0, q["c"], 1.0), 2),
        )
    )
    outcomes = simulate(root, replications=1000, seed=5)
    truth = (1 - q["a"] ** 2) * (1 - q["b"] ** 2) * (1 - q["c"] ** 2) ** 2
    assert proportion_ok(sum(o.success for o in outcomes), len(outcomes), truth)


def test_retries_add_time_and_cost_and_a_failed_run_stops_there() -> None:
    # deterministic 1 h steps, prices 10 and 20; failures with q_a = 0.5, q_b = 0.4
    qa, qb = 0.5, 0.4
    root = PlanSequence((fixed("a", 1.0, 10, qa), fixed("b", 1.0, 20, qb)))
    outcomes = simulate(root, replications=1000, seed=11)
    # every possible run: a's attempts (1 or 2), then b's, or a stop after two failures
    allowed = {
        (2.0, 30.0, True), (3.0, 40.0, True), (3.0, 50.0, True), (4.0, 60.0, True),
        (2.0, 20.0, False), (3.0, 50.0, False), (4.0, 60.0, False),
    }  # fmt: skip
    assert {(o.makespan_h, o.cost, o.success) for o in outcomes} <= allowed
    expected = 10 * (1 + qa) + (1 - qa**2) * 20 * (1 + qb)
    costs = np.array([o.cost for o in outcomes])
    assert abs(costs.mean() - expected) <= Z999 * costs.std(ddof=1) / math.sqrt(len(costs))


def test_choice_branches_are_drawn_with_their_probabilities() -> None:
    root = PlanChoice(((0.3, fixed("a", 1.0, 100)), (0.7, fixed("b", 2.0, 0))))
    outcomes = simulate(root, replications=1000, seed=2)
    assert {o.makespan_h for o in outcomes} == {1.0, 2.0}
    assert proportion_ok(sum(o.cost == 100 for o in outcomes), len(outcomes), 0.3)


def test_bootstrap_needs_enough_samples() -> None:
    sample = (1.0, 2.0, 3.0, 4.0, 5.0)
    boot = simulate(PlanStep("a", 9.0, 0.0, 0.0, durations_h=sample), replications=200, seed=1)
    assert {o.makespan_h for o in boot} == set(sample)
    thin = simulate(PlanStep("a", 9.0, 0.0, 0.0, durations_h=sample[:4]), replications=200, seed=1)
    assert not {o.makespan_h for o in thin} & set(sample)  # drawn around the promise instead
    costs = simulate(PlanStep("a", 1.0, 0.0, 7.0, costs=(1.0, 1.0, 2.0, 2.0, 2.0)), replications=100, seed=1)
    assert {o.cost for o in costs} == {1.0, 2.0}


def test_same_seed_same_outcomes() -> None:
    root = PlanSequence(
        (
            PlanStep("a", 1.0, 0.1, 1.0),
            PlanParallel((PlanStep("b", 2.0, 0.2, 1.0), PlanStep("c", 1.0, 0.0, 1.0))),
        )
    )
    assert simulate(root, replications=20, seed=4) == simulate(root, replications=20, seed=4)
    assert simulate(root, replications=20, seed=4) != simulate(root, replications=20, seed=5)


def test_bad_plans_name_every_problem() -> None:
    root = PlanSequence(
        (
            PlanStep("a", -1.0, 1.5, math.nan, durations_h=(1.0, -2.0)),
            PlanChoice(((0.5, PlanStep("b", 1.0, 0.0, 0.0)), (0.4, PlanStep("c", 1.0, 0.0, 0.0)))),
            PlanLoop(PlanStep("d", 1.0, 0.0, 0.0), 0),
        )
    )
    with pytest.raises(InvalidInput) as err:
        simulate(root, capacities={"o": 0}, replications=10)
    assert err.value.extra["errors"] == [
        "plan/0/a/mean_h: a finite number >= 0",
        "plan/0/a/p_fail: a probability in [0, 1]",
        "plan/0/a/price: a finite number >= 0",
        "plan/0/a/durations_h/1: a finite number >= 0",
        "plan/1: branch probabilities must sum to 1",
        "plan/2/count: a whole number >= 1",
        "capacities/o: a whole number >= 1",
    ]
    with pytest.raises(InvalidInput, match="replications"):
        simulate(PlanStep("a", 1.0, 0.0, 0.0), replications=0)
    with pytest.raises(InvalidInput) as err:
        simulate(PlanLoop(PlanSequence((PlanStep("a", 1.0, 0.0, 0.0),) * 3), 1000), replications=1000)
    assert "use fewer replications" in err.value.extra["errors"][0]
