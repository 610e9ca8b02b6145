"""Forecasting a plan before commit: simulate its execution from history and promises, summarise the odds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.sim.runner import check_replications, t_quantile
from iplus.engines.sim.service_plan import (
    PlanChoice,
    PlanLoop,
    PlanNode,
    PlanParallel,
    PlanSequence,
    PlanStep,
    simulate,
    wilson,
)
from iplus.platform.systems.aggregate import Option, option_problems
from iplus.platform.systems.history import QosHistory, from_promise, history_problems
from iplus.platform.systems.requirement import Choice, Node, Parallel, RequirementGraph, Sequence, Task


@dataclass(frozen=True)
class Forecast:
    """What simulated executions of a plan say: odds of the deadline and of success, cost, makespan."""

    p_deadline: float | None  # share of runs completing successfully within the deadline; None without one
    p_deadline_ci: tuple[float, float] | None  # Wilson 95%
    p_success: float
    p_success_ci: tuple[float, float]  # Wilson 95%
    expected_cost: float
    expected_cost_ci: tuple[float, float] | None  # Student t 95%; None with one replication
    makespan_p50_h: float | None  # over the runs that complete; None when none does
    makespan_p90_h: float | None
    replications: int

    def to_json(self) -> dict[str, Any]:
        """The forecast as answered by the API."""
        return {
            "p_deadline": self.p_deadline,
            "p_deadline_ci": list(self.p_deadline_ci) if self.p_deadline_ci else None,
            "p_success": self.p_success,
            "p_success_ci": list(self.p_success_ci),
            "expected_cost": self.expected_cost,
            "expected_cost_ci": list(self.expected_cost_ci) if self.expected_cost_ci else None,
            "makespan_p50_h": self.makespan_p50_h,
            "makespan_p90_h": self.makespan_p90_h,
            "replications": self.replications,
        }


def step_for(task_id: str, option: Option, history: QosHistory) -> PlanStep:
    """One task as the simulation draws it: history where there is enough, the promise otherwise."""
    return PlanStep(
        id=task_id,
        mean_h=option.time_h,
        p_fail=1.0 - history.success_rate(option.reliability),
        price=option.cost,
        durations_h=tuple(history.durations_h),
        costs=tuple(history.costs),
        resource=option.offer_id,
    )


def plan_tree(
    req: RequirementGraph, choice: Mapping[str, Option], history: Mapping[str, QosHistory]
) -> PlanNode:
    """The requirement graph with its chosen options, as the engine's plain plan tree."""

    def convert(node: Node) -> PlanNode:
        if isinstance(node, Task):
            option = choice[node.id]
            return step_for(node.id, option, history.get(option.offer_id) or from_promise(option))
        if isinstance(node, Sequence):
            return PlanSequence(tuple(convert(s) for s in node.steps))
        if isinstance(node, Parallel):
            return PlanParallel(tuple(convert(b) for b in node.branches))
        if isinstance(node, Choice):
            return PlanChoice(tuple((p, convert(b)) for p, b in node.branches))
        return PlanLoop(convert(node.body), node.count)

    return convert(req.root)


def _problems(
    req: RequirementGraph, choice: Mapping[str, Option], history: Mapping[str, QosHistory]
) -> list[str]:
    ids = [t.id for t in req.tasks()]
    problems = [f"choice/{t}: no option chosen" for t in ids if t not in choice]
    problems += [f"choice/{t}: not a task of the requirement" for t in choice if t not in set(ids)]
    for t, option in choice.items():
        problems += option_problems(option, f"choice/{t}")
    used = {o.offer_id for o in choice.values()}
    for offer_id, h in history.items():
        if offer_id in used:
            problems += history_problems(h, f"history/{offer_id}")
    return problems


def forecast(
    req: RequirementGraph,
    choice: Mapping[str, Option],
    history: Mapping[str, QosHistory],
    *,
    replications: int = 1000,
    seed: int = 0,
) -> Forecast:
    """Simulate ``replications`` seeded executions of the plan and summarise them."""
    check_replications(replications)
    problems = _problems(req, choice, history)
    if problems:
        raise InvalidInput("the plan cannot be forecast", errors=problems)
    # tasks on one offer queue for it; an offer declares at least one execution at a time
    capacities: dict[str, int] = {}
    for option in choice.values():
        capacities[option.offer_id] = max(capacities.get(option.offer_id, 1), int(option.capacity))
    outcomes = simulate(
        plan_tree(req, choice, history), capacities=capacities, replications=replications, seed=seed
    )
    n = len(outcomes)
    done = [o.makespan_h for o in outcomes if o.success]
    deadline = req.constraints.deadline_h
    p_deadline = p_deadline_ci = None
    if deadline is not None:
        # a tolerance for float sums of hours that equal the deadline on paper
        met = sum(o.success and o.makespan_h <= deadline + 1e-9 for o in outcomes)
        p_deadline, p_deadline_ci = met / n, wilson(met, n)
    costs = [o.cost for o in outcomes]
    mean = math.fsum(costs) / n
    cost_ci = None
    if n > 1:
        sd = math.sqrt(math.fsum((c - mean) ** 2 for c in costs) / (n - 1))
        half = t_quantile(n - 1) * sd / math.sqrt(n)
        cost_ci = (mean - half, mean + half)
    p50 = p90 = None
    if done:
        p50, p90 = (float(q) for q in np.quantile(done, [0.5, 0.9]))
    return Forecast(
        p_deadline=p_deadline,
        p_deadline_ci=p_deadline_ci,
        p_success=len(done) / n,
        p_success_ci=wilson(len(done), n),
        expected_cost=mean,
        expected_cost_ci=cost_ci,
        makespan_p50_h=p50,
        makespan_p90_h=p90,
        replications=n,
    )
