"""Monte-Carlo execution of a service plan on SimPy: sampled durations, failures with one retry, branches."""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import simpy

from iplus.core.errors import InvalidInput
from iplus.engines.sim.runner import check_replications, replication_seed

# With fewer observed durations than this the empirical distribution is too coarse to bootstrap.
MIN_SAMPLES = 5
# Coefficient of variation of the lognormal drawn around a promised time when history is too thin:
# a quarter of the mean, i.e. about 2 in 3 executions within +-25% of the promise.
PROMISE_CV = 0.25
# A failed execution is retried this many times on the same service before the run fails.
RETRIES = 1
# Task executions over all replications of one simulation (keeps one request to seconds of work).
MAX_EXECUTIONS = 2_000_000
Z95 = 1.959963984540054


@dataclass(frozen=True)
class PlanStep:
    """One task on its chosen service, reduced to what its execution draws from."""

    id: str
    mean_h: float  # promised duration: lognormal mean when fewer than MIN_SAMPLES durations are known
    p_fail: float  # probability that one execution fails
    price: float  # cost of one execution when fewer than MIN_SAMPLES costs are known
    durations_h: tuple[float, ...] = ()  # observed durations, bootstrapped when there are enough
    costs: tuple[float, ...] = ()  # observed costs per execution, bootstrapped likewise
    resource: str | None = None  # steps naming the same resource queue for its capacity
    cv: float = PROMISE_CV


@dataclass(frozen=True)
class PlanSequence:
    """Steps one after the other."""

    steps: tuple[PlanNode, ...]


@dataclass(frozen=True)
class PlanParallel:
    """Branches at the same time; the node ends when all have ended."""

    branches: tuple[PlanNode, ...]


@dataclass(frozen=True)
class PlanChoice:
    """One branch, drawn with its probability, runs."""

    branches: tuple[tuple[float, PlanNode], ...]


@dataclass(frozen=True)
class PlanLoop:
    """The body ``count`` times in a row."""

    body: PlanNode
    count: int


PlanNode = PlanStep | PlanSequence | PlanParallel | PlanChoice | PlanLoop


@dataclass(frozen=True)
class Outcome:
    """One replication: elapsed hours until the plan ended or failed, money spent, whether it completed."""

    makespan_h: float
    cost: float
    success: bool


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def executions(node: PlanNode) -> int:
    """Most task executions one run can make (every choice taking its longest branch, no retries)."""
    if isinstance(node, PlanStep):
        return 1
    if isinstance(node, PlanSequence):
        return sum(executions(s) for s in node.steps)
    if isinstance(node, PlanParallel):
        return sum(executions(b) for b in node.branches)
    if isinstance(node, PlanChoice):
        return max(executions(b) for _, b in node.branches)
    return node.count * executions(node.body)


def _finite(value: Any, low: float, high: float = math.inf) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and low <= value <= high
    )


def plan_problems(node: PlanNode, path: str = "plan") -> list[str]:
    """Every problem of a plan tree, each with its path."""
    out: list[str] = []
    if isinstance(node, PlanStep):
        where = f"{path}/{node.id}"
        if not _finite(node.mean_h, 0.0):
            out.append(f"{where}/mean_h: a finite number >= 0")
        if not _finite(node.p_fail, 0.0, 1.0):
            out.append(f"{where}/p_fail: a probability in [0, 1]")
        if not _finite(node.price, 0.0):
            out.append(f"{where}/price: a finite number >= 0")
        if not _finite(node.cv, 0.0):
            out.append(f"{where}/cv: a finite number >= 0")
        for name, values in (("durations_h", node.durations_h), ("costs", node.costs)):
            out += [
                f"{where}/{name}/{i}: a finite number >= 0"
                for i, v in enumerate(values)
                if not _finite(v, 0.0)
            ]
    elif isinstance(node, PlanSequence | PlanParallel):
        items = node.steps if isinstance(node, PlanSequence) else node.branches
        if not items:
            out.append(f"{path}: at least one node")
        for i, child in enumerate(items):
            out += plan_problems(child, f"{path}/{i}")
    elif isinstance(node, PlanChoice):
        if not node.branches:
            out.append(f"{path}: at least one branch")
        elif not all(_finite(p, 0.0, 1.0) and p > 0 for p, _ in node.branches):
            out.append(f"{path}: every branch probability in (0, 1]")
        elif abs(math.fsum(p for p, _ in node.branches) - 1.0) > 1e-9:
            out.append(f"{path}: branch probabilities must sum to 1")
        for i, (_, child) in enumerate(node.branches):
            out += plan_problems(child, f"{path}/{i}")
    else:
        if isinstance(node.count, bool) or not isinstance(node.count, int) or node.count < 1:
            out.append(f"{path}/count: a whole number >= 1")
        out += plan_problems(node.body, f"{path}/body")
    return out


class _Run:
    """One replication on its own environment and random stream."""

    def __init__(self, env: simpy.Environment, rng: random.Random, capacities: Mapping[str, int]) -> None:
        self.env = env
        self.rng = rng
        self.resources = {name: simpy.Resource(env, capacity=c) for name, c in capacities.items()}
        self.cost = 0.0
        self.failed = env.event()

    def node(self, node: PlanNode) -> Generator[simpy.Event, Any, None]:
        """Execute one node of the tree."""
        env = self.env
        if isinstance(node, PlanStep):
            yield from self.step(node)
        elif isinstance(node, PlanSequence):
            for child in node.steps:
                yield from self.node(child)
        elif isinstance(node, PlanParallel):
            yield env.all_of([env.process(self.node(b)) for b in node.branches])
        elif isinstance(node, PlanChoice):
            yield from self.node(self.pick(node))
        else:
            for _ in range(node.count):
                yield from self.node(node.body)

    def pick(self, node: PlanChoice) -> PlanNode:
        """The branch this run takes."""
        u = self.rng.random()
        for p, branch in node.branches:
            u -= p
            if u < 0:
                return branch
        return node.branches[-1][1]  # probabilities summing to 1 - epsilon

    def duration(self, step: PlanStep) -> float:
        """Hours one execution takes."""
        if len(step.durations_h) >= MIN_SAMPLES:
            return self.rng.choice(step.durations_h)
        if step.mean_h <= 0:
            return 0.0
        if step.cv <= 0:
            return step.mean_h
        mu, sigma = lognormal_params(step.mean_h, step.cv)
        return self.rng.lognormvariate(mu, sigma)

    def price(self, step: PlanStep) -> float:
        """What one execution costs."""
        if len(step.costs) >= MIN_SAMPLES:
            return self.rng.choice(step.costs)
        return step.price

    def step(self, step: PlanStep) -> Generator[simpy.Event, Any, None]:
        """Execute one task: queue for its service, run, retry once on failure, else fail the run."""
        resource = self.resources.get(step.resource) if step.resource is not None else None
        request = resource.request() if resource is not None else None
        if request is not None:
            yield request
        try:
            for _ in range(1 + RETRIES):
                # a started execution is billed whether it succeeds or not
                self.cost += self.price(step)
                yield self.env.timeout(self.duration(step))
                if self.rng.random() >= step.p_fail:
                    return
            if not self.failed.triggered:
                self.failed.succeed()
            # the run is over: this branch waits forever and the replication stops on ``failed``
            yield self.env.event()
        finally:
            if resource is not None and request is not None:
                resource.release(request)


def run_once(root: PlanNode, capacities: Mapping[str, int], seed: int) -> Outcome:
    """One replication of an already checked plan."""
    env = simpy.Environment()
    run = _Run(env, random.Random(seed), capacities)  # noqa: S311 - a seeded simulation stream
    done = env.process(run.node(root))
    env.run(until=env.any_of([done, run.failed]))
    return Outcome(makespan_h=float(env.now), cost=run.cost, success=not run.failed.triggered)


def simulate(
    root: PlanNode, *, capacities: Mapping[str, int] | None = None, replications: int = 1000, seed: int = 0
) -> list[Outcome]:
    """Seeded replications of executing the plan; replication r uses the stream SeedSequence([seed, r])."""
    check_replications(replications)
    problems = plan_problems(root)
    caps = dict(capacities or {})
    problems += [
        f"capacities/{name}: a whole number >= 1"
        for name, c in caps.items()
        if isinstance(c, bool) or not isinstance(c, int) or c < 1
    ]
    if not problems and (work := executions(root) * replications) > MAX_EXECUTIONS:
        problems.append(
            f"plan: about {work:,} task executions over {replications} replications; "
            f"at most {MAX_EXECUTIONS:,}: use fewer replications"
        )
    if problems:
        raise InvalidInput("the plan cannot be simulated", errors=problems)
    return [run_once(root, caps, replication_seed(seed, r)) for r in range(replications)]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% by default); (0, 1) with no trials."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)
