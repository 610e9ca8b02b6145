"""Simulation service: start runs and sweeps in the background, keep their progress and results, compare."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput, IplusError, NotFound
from iplus.core.roles import Scope
from iplus.engines.sim import Plan, Point, execute, kind, kinds, plan
from iplus.infra.db.engine import Database
from iplus.infra.db.models_sim import SimResult, SimRun
from iplus.infra.db.repos import TenantRepository
from iplus.infra.ports import Compute
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
TwinReader = Callable[[Principal, str], Awaitable[dict[str, Any]]]
Progress = Callable[[int, int], Awaitable[None] | None]
PROGRESS_EVERY_S = 0.5
MAX_COMPARE = 6
MAX_DEVICES = 100


@dataclass(frozen=True)
class RunSpec:
    """What to simulate: a kind, parameters, seed, replications, an optional sweep grid and what-if source."""

    kind: str
    params: dict[str, Any]
    seed: int = 1
    replications: int = 1
    sweep: dict[str, list[Any]] | None = None
    initial_state: dict[str, Any] | None = None
    device_ids: list[str] | None = None
    name: str = ""


class RunRepository(TenantRepository[SimRun]):
    """An organisation's simulation runs."""

    model = SimRun
    noun = "simulation run"


def reported_values(twin: dict[str, Any]) -> dict[str, Any]:
    """A twin's reported state as plain ``{property: value}``."""
    return {k: v.get("value") if isinstance(v, dict) else v for k, v in twin.get("reported", {}).items()}


class Simulations:
    """Runs scenarios on the compute backend and stores what was asked and what came out."""

    def __init__(self, db: Database, compute: Compute, read_twin: TwinReader) -> None:
        self.db = db
        self.compute = compute
        self.read_twin = read_twin
        self._tasks: dict[asyncio.Task[None], tuple[str, str]] = {}

    @staticmethod
    def scenarios() -> list[dict[str, Any]]:
        """Every scenario kind with its parameter schema, KPIs and initial-state fields."""
        return [k.describe() for k in kinds().values()]

    async def prepare(self, caller: Principal, spec: RunSpec) -> Plan:
        """Validate the whole request and fill the initial state from the named twins (what-if)."""
        scenario = kind(spec.kind)
        state = dict(spec.initial_state or {})
        if spec.device_ids:
            if len(spec.device_ids) > MAX_DEVICES:
                raise InvalidInput(f"what-if takes at most {MAX_DEVICES} devices")
            twins = [reported_values(await self.read_twin(caller, d)) for d in spec.device_ids]
            # values given explicitly win over those read from the twins
            state = {**scenario.state_from_twins(twins), **state}
        if len(spec.name) > 200:
            raise InvalidInput("name: at most 200 characters")
        return plan(
            spec.kind,
            spec.params,
            seed=spec.seed,
            replications=spec.replications,
            sweep=spec.sweep,
            state=state or None,
        )

    async def _create(self, caller: Principal, spec: RunSpec, experiment: Plan) -> SimRun:
        async with self.db.transaction() as s:
            return await RunRepository(s, caller.org_id).add(
                SimRun(
                    created_by=caller.user_id,
                    name=spec.name,
                    kind=spec.kind,
                    params=spec.params,
                    sweep=spec.sweep,
                    seed=spec.seed,
                    replications=spec.replications,
                    initial_state=experiment.state,
                    device_ids=spec.device_ids,
                    status="queued",
                    done=0,
                    total=experiment.tasks,
                )
            )

    async def start(self, caller: Principal, spec: RunSpec) -> SimRun:
        """Store the run and start it in the background; poll ``get`` for progress and results."""
        caller.require_scope(Scope.WRITE)
        experiment = await self.prepare(caller, spec)
        run = await self._create(caller, spec, experiment)
        task = asyncio.create_task(
            self._execute(caller.org_id, run.id, experiment, None), name=f"sim-{run.id}"
        )
        self._tasks[task] = (caller.org_id, run.id)
        task.add_done_callback(lambda t: self._tasks.pop(t, None))
        return run

    async def run(self, caller: Principal, spec: RunSpec, progress: Progress | None = None) -> SimRun:
        """Store the run and run it to the end here (the CLI), reporting progress to ``progress``."""
        caller.require_scope(Scope.WRITE)
        experiment = await self.prepare(caller, spec)
        run = await self._create(caller, spec, experiment)
        await self._execute(caller.org_id, run.id, experiment, progress)
        return await self.get(caller, run.id)

    async def _execute(self, org_id: str, run_id: str, experiment: Plan, progress: Progress | None) -> None:
        last = 0.0

        async def report(done: int, total: int) -> None:
            nonlocal last
            if progress is not None:
                outcome = progress(done, total)
                if outcome is not None:
                    await outcome
            now = time.monotonic()
            if done == total or now - last >= PROGRESS_EVERY_S:
                last = now
                await self._set(org_id, run_id, done=done)

        try:
            await self._set(org_id, run_id, status="running", started_at=utcnow())
            points = await execute(experiment, self.compute, report)
        except Exception as exc:  # a failed run is recorded, never lost
            log.exception("simulation run %s failed", run_id)
            detail = exc.detail if isinstance(exc, IplusError) else f"{type(exc).__name__}: {exc}"
            await self._set(org_id, run_id, status="failed", error=detail[:2000], finished_at=utcnow())
            return
        await self._store(org_id, run_id, points)

    async def _set(self, org_id: str, run_id: str, **values: Any) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(SimRun).where(SimRun.org_id == org_id, SimRun.id == run_id).values(**values)
            )

    async def _store(self, org_id: str, run_id: str, points: list[Point]) -> None:
        async with self.db.transaction() as s:
            for i, p in enumerate(points):
                s.add(
                    SimResult(
                        org_id=org_id,
                        run_id=run_id,
                        position=i,
                        params=p.params,
                        kpis=p.kpis,
                        replications=p.replications,
                        series=p.series,
                    )
                )
            await s.execute(
                update(SimRun)
                .where(SimRun.org_id == org_id, SimRun.id == run_id)
                .values(status="succeeded", done=SimRun.total, finished_at=utcnow())
            )

    async def list_runs(self, caller: Principal, *, limit: int = 100) -> list[SimRun]:
        """The organisation's runs, newest first."""
        async with self.db.transaction() as s:
            stmt = (
                select(SimRun)
                .where(SimRun.org_id == caller.org_id)
                .order_by(SimRun.created_at.desc(), SimRun.id.desc())
                .limit(min(max(limit, 1), 1000))
            )
            return list((await s.scalars(stmt)).all())

    async def get(self, caller: Principal, run_id: str) -> SimRun:
        """One run (status and progress)."""
        async with self.db.transaction() as s:
            return await RunRepository(s, caller.org_id).get(run_id)

    async def results(self, caller: Principal, run_id: str) -> list[SimResult]:
        """A run's results, one per parameter set, in sweep order (empty until it has succeeded)."""
        async with self.db.transaction() as s:
            await RunRepository(s, caller.org_id).get(run_id)
            stmt = (
                select(SimResult)
                .where(SimResult.org_id == caller.org_id, SimResult.run_id == run_id)
                .order_by(SimResult.position)
            )
            return list((await s.scalars(stmt)).all())

    async def compare(self, caller: Principal, run_ids: list[str]) -> dict[str, Any]:
        """KPI means side by side: one column per run (its first parameter set), one row per KPI."""
        if not 2 <= len(run_ids) <= MAX_COMPARE:
            raise InvalidInput(f"compare 2 to {MAX_COMPARE} runs, got {len(run_ids)}")
        runs = []
        for run_id in run_ids:
            run = await self.get(caller, run_id)
            if run.status != "succeeded":
                raise InvalidInput(f"run {run_id} has no results yet (status {run.status})")
            first = (await self.results(caller, run_id))[0]
            runs.append((run, first))
        keys: list[str] = []
        for _, result in runs:
            keys += [k for k in result.kpis if k not in keys]
        return {
            "runs": [
                {
                    "id": r.id,
                    "name": r.name,
                    "kind": r.kind,
                    "params": res.params,
                    "seed": r.seed,
                    "replications": r.replications,
                }
                for r, res in runs
            ],
            "kpis": [
                {
                    "kpi": key,
                    "values": [res.kpis.get(key, {}).get("mean") for _, res in runs],
                    "ci95": [res.kpis.get(key, {}).get("ci95") for _, res in runs],
                }
                for key in keys
            ],
        }

    async def stop(self) -> None:
        """Cancel runs still going; each is marked failed (a cancelled task may not have started yet)."""
        tasks = dict(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for org_id, run_id in tasks.values():
            async with self.db.transaction() as s:
                await s.execute(
                    update(SimRun)
                    .where(
                        SimRun.org_id == org_id, SimRun.id == run_id, SimRun.status.in_(["queued", "running"])
                    )
                    .values(status="failed", error="stopped with the platform", finished_at=utcnow())
                )

    async def wait(self, caller: Principal, run_id: str, within: float = 60.0) -> SimRun:
        """Poll until the run has finished (for tests and scripts)."""
        deadline = time.monotonic() + within
        while True:
            run = await self.get(caller, run_id)
            if run.status in {"succeeded", "failed"}:
                return run
            if time.monotonic() > deadline:
                raise NotFound(f"simulation run {run_id} did not finish within {within} s")
            await asyncio.sleep(0.05)
