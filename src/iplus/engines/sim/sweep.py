"""Experiments: parameter sets x replications, run through the compute backend with progress reports."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from iplus.core.errors import InvalidInput
from iplus.engines.sim.runner import (
    Replication,
    check_replications,
    origin,
    replication_seed,
    run_replication,
    summarise,
    validate,
)
from iplus.infra.ports import Compute

Progress = Callable[[int, int], Awaitable[None] | None]
MAX_POINTS = 500
MAX_TASKS = 20_000


@dataclass(frozen=True)
class Point:
    """One parameter set of an experiment, its summary KPIs and the first replication's time series."""

    params: dict[str, Any]
    kpis: dict[str, dict[str, float | None]]
    series: dict[str, list[float]]
    replications: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "params": self.params,
            "kpis": self.kpis,
            "series": self.series,
            "replications": self.replications,
        }


def expand_grid(base: dict[str, Any], grid: dict[str, list[Any]] | None) -> list[dict[str, Any]]:
    """Every combination of the grid's values over the base parameters (the base alone without a grid)."""
    if not grid:
        return [dict(base)]
    if not isinstance(grid, dict):
        raise InvalidInput("sweep must map parameter names to lists of values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InvalidInput(f"sweep {name!r}: needs a non-empty list of values")
    points = [
        dict(base, **dict(zip(grid, combo, strict=True))) for combo in itertools.product(*grid.values())
    ]
    if len(points) > MAX_POINTS:
        raise InvalidInput(f"sweep has {len(points)} parameter sets; at most {MAX_POINTS}")
    return points


@dataclass(frozen=True)
class Plan:
    """A validated experiment, ready to run."""

    kind: str
    points: list[dict[str, Any]]
    seed: int
    replications: int
    state: dict[str, Any] | None

    @property
    def tasks(self) -> int:
        """How many replications run in all."""
        return len(self.points) * self.replications


def plan(
    kind: str,
    params: dict[str, Any],
    *,
    seed: int = 1,
    replications: int = 1,
    sweep: dict[str, list[Any]] | None = None,
    state: dict[str, Any] | None = None,
) -> Plan:
    """Validate everything up front, so a bad point is refused before anything runs."""
    check_replications(replications)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput("seed must be a whole number 0..2^63-1")
    points = []
    for i, raw in enumerate(expand_grid(params, sweep)):
        try:
            points.append(validate(kind, raw, state))
        except InvalidInput as exc:
            if sweep:
                raise InvalidInput(f"sweep point {i + 1}: {exc.detail}", **exc.extra) from exc
            raise
    result = Plan(kind, points, seed, replications, state or None)
    if result.tasks > MAX_TASKS:
        raise InvalidInput(f"{result.tasks} replications in all; at most {MAX_TASKS}")
    return result


async def execute(experiment: Plan, compute: Compute, progress: Progress | None = None) -> list[Point]:
    """Run every replication on ``compute``; ``progress(done, total)`` after each one finishes."""
    total = experiment.tasks
    where = origin(experiment.kind)
    if progress is not None:
        await _report(progress, 0, total)

    async def one(p: int, r: int) -> tuple[int, int, Replication]:
        seed = replication_seed(experiment.seed, r)
        rep = await compute.submit(
            run_replication, experiment.kind, experiment.points[p], seed, experiment.state, where
        )
        return p, r, rep

    jobs = [
        asyncio.ensure_future(one(p, r))
        for p in range(len(experiment.points))
        for r in range(experiment.replications)
    ]
    results: dict[tuple[int, int], Replication] = {}
    try:
        for done, job in enumerate(asyncio.as_completed(jobs), 1):
            p, r, rep = await job
            results[(p, r)] = rep
            if progress is not None:
                await _report(progress, done, total)
    finally:
        for job in jobs:
            job.cancel()
    points = []
    for p, params in enumerate(experiment.points):
        reps = [results[(p, r)] for r in range(experiment.replications)]
        points.append(Point(params, summarise(reps), reps[0].series, [rep.kpis for rep in reps]))
    return points


async def _report(progress: Progress, done: int, total: int) -> None:
    outcome = progress(done, total)
    if outcome is not None:
        await outcome


def run_inline(experiment: Plan) -> list[Point]:
    """Run every replication in this process, one after another (for small runs and benchmarks)."""
    points = []
    for params in experiment.points:
        reps = [
            run_replication(experiment.kind, params, replication_seed(experiment.seed, r), experiment.state)
            for r in range(experiment.replications)
        ]
        points.append(Point(params, summarise(reps), reps[0].series, [rep.kpis for rep in reps]))
    return points
