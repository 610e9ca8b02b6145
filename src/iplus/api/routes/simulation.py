"""Simulation: scenario kinds, runs and sweeps (started in the background), results and comparisons."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.core.errors import InvalidInput
from iplus.infra.db.models_sim import SimResult, SimRun
from iplus.platform.simulation import RunSpec

router = APIRouter(prefix="/simulation", tags=["simulation"])


class RunIn(BaseModel):
    """A run: scenario kind and parameters; a sweep grid and what-if devices are optional."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=50, examples=["queueing_station"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"arrival_rate": 0.8, "servers": 1}])
    seed: int = Field(default=1, ge=0, lt=2**63)
    replications: int = Field(default=1, ge=1, le=1000)
    sweep: dict[str, list[Any]] | None = Field(default=None, examples=[{"servers": [1, 2, 3]}])
    initial_state: dict[str, Any] | None = None
    device_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, description="what-if: read the initial state from these devices' twins"
    )
    name: str = Field(default="", max_length=200)


class RunOut(BaseModel):
    """A run's request, status and progress."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    params: dict[str, Any]
    sweep: dict[str, Any] | None
    seed: int
    replications: int
    initial_state: dict[str, Any] | None
    device_ids: list[str] | None
    status: str
    done: int
    total: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ResultOut(BaseModel):
    """One parameter set's outcome: KPI mean / sd / 95% CI, per-replication KPIs, time series."""

    model_config = ConfigDict(from_attributes=True)

    position: int
    params: dict[str, Any]
    kpis: dict[str, dict[str, float | None]]
    replications: list[dict[str, float]]
    series: dict[str, list[float]]


class RunDetail(RunOut):
    """A run with its results (empty until it has succeeded)."""

    results: list[ResultOut]


def _detail(run: SimRun, results: list[SimResult]) -> RunDetail:
    return RunDetail(
        **RunOut.model_validate(run).model_dump(), results=[ResultOut.model_validate(r) for r in results]
    )


@router.get("/scenarios")
async def scenarios(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """Scenario kinds with their parameter JSON Schemas (units, defaults, bounds), KPIs and initial state."""
    return ctx.simulations.scenarios()


@router.post("/runs", response_model=RunOut, status_code=status.HTTP_202_ACCEPTED)
async def start_run(ctx: ContextDep, caller: Writer, body: RunIn) -> RunOut:
    """Validate and start a run or sweep in the background; poll GET /runs/{id} for progress."""
    spec = RunSpec(
        kind=body.kind,
        params=body.params,
        seed=body.seed,
        replications=body.replications,
        sweep=body.sweep,
        initial_state=body.initial_state,
        device_ids=body.device_ids,
        name=body.name,
    )
    return RunOut.model_validate(await ctx.simulations.start(caller, spec))


@router.get("/runs", response_model=list[RunOut])
async def list_runs(
    ctx: ContextDep, caller: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RunOut]:
    """The organisation's runs, newest first."""
    return [RunOut.model_validate(r) for r in await ctx.simulations.list_runs(caller, limit=limit)]


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(ctx: ContextDep, caller: Reader, run_id: ObjectId) -> RunDetail:
    """Status, progress and, once done, the results with KPIs and time series."""
    run = await ctx.simulations.get(caller, run_id)
    return _detail(run, await ctx.simulations.results(caller, run_id))


@router.get("/compare")
async def compare(
    ctx: ContextDep, caller: Reader, ids: Annotated[str, Query(max_length=400, examples=["id1,id2"])]
) -> dict[str, Any]:
    """KPI means of 2-6 finished runs side by side."""
    run_ids = [i.strip() for i in ids.split(",") if i.strip()]
    if len(set(run_ids)) != len(run_ids):
        raise InvalidInput("ids: each run once")
    return await ctx.simulations.compare(caller, run_ids)
