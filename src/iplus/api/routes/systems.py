"""Smart service systems: construct from a requirement, plans, runs, ratings, reputation and reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer

router = APIRouter(tags=["systems"])
TaskKey = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9][a-z0-9_#.-]{0,199}$",
        description="a task instance: the task id, with #iteration inside loops (send # as %23)",
    ),
]


class RunIn(BaseModel):
    """Commit to a plan: which plan, choice branches to take, a seed for the others, order inputs."""

    plan: int | None = Field(
        default=None, ge=1, le=1_000_000, description="plan number; the newest when left out"
    )
    choices: Any = Field(
        default=None, description='{"graph/sequence/2/choice": 1}: the branch (0-based) a choice takes'
    )
    seed: Any = Field(default=None, description="seeds the draw of the choices not given")
    inputs: Any = Field(default=None, description="task id -> parameter values sent with its orders")
    slack: Any = Field(default=None, description="share of the promised time a task may overrun (0.5)")


class CancelIn(BaseModel):
    """Why the run is cancelled."""

    reason: str = Field(default="", max_length=2000)


class RatingIn(BaseModel):
    """Stars 1-5 and an optional comment on one finished task."""

    stars: Any = Field(description="an integer from 1 to 5")
    comment: Any = ""
    attempt: Any = Field(default=None, description="which attempt; the newest dispatched one when left out")


Requirement = Annotated[
    dict[str, Any],
    Body(
        description="the requirement: name, graph (task/sequence/parallel/choice/loop), constraints, weights"
    ),
]


@router.post("/systems", status_code=status.HTTP_201_CREATED)
async def construct(ctx: ContextDep, caller: Writer, body: Requirement) -> dict[str, Any]:
    """Build a system: match each task, select the best services, schedule, forecast; the plan and why."""
    return await ctx.systems.construct(caller, body)


@router.get("/systems")
async def list_systems(
    ctx: ContextDep,
    caller: Reader,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Your systems (operators: every one), newest first."""
    items, total = await ctx.systems.list(caller, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/systems/{system_id}")
async def get_system(ctx: ContextDep, caller: Reader, system_id: ObjectId) -> dict[str, Any]:
    """A system with its requirement and its plans."""
    return await ctx.systems.get(caller, system_id)


@router.post("/systems/{system_id}/plans", status_code=status.HTTP_201_CREATED)
async def replan(ctx: ContextDep, caller: Writer, system_id: ObjectId) -> dict[str, Any]:
    """A new plan with today's offers and reputations."""
    return await ctx.systems.replan(caller, system_id)


@router.get("/systems/{system_id}/plans/{number}")
async def get_plan(
    ctx: ContextDep, caller: Reader, system_id: ObjectId, number: Annotated[int, Path(ge=1, le=1_000_000)]
) -> dict[str, Any]:
    """One plan: choices, aggregate QoS, utility, ranking (why), explanation, schedule, forecast."""
    return await ctx.systems.plan(caller, system_id, number)


@router.post("/systems/{system_id}/runs", status_code=status.HTTP_201_CREATED)
async def start_run(ctx: ContextDep, caller: Writer, system_id: ObjectId, body: RunIn) -> dict[str, Any]:
    """Run a plan: its tasks are ordered from the chosen offers as their predecessors finish."""
    run_id = await ctx.systems.runs.start_run(
        caller,
        system_id,
        body.plan,
        choices=body.choices,
        seed=body.seed,
        inputs=body.inputs,
        slack=body.slack,
    )
    return await ctx.systems.views.get(caller, run_id)


@router.get("/runs")
async def list_runs(
    ctx: ContextDep,
    caller: Reader,
    status_: Annotated[
        Literal["running", "completed", "failed", "cancelled"] | None, Query(alias="status")
    ] = None,
    system_id: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Runs you started, runs with tasks ordered from you, or (operators) every run; newest first."""
    items, total = await ctx.systems.views.list(
        caller, status=status_, system_id=system_id, offset=offset, limit=limit
    )
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/runs/{run_id}")
async def get_run(ctx: ContextDep, caller: Reader, run_id: ObjectId) -> dict[str, Any]:
    """A run: every task attempt with its state and order, and the run's history."""
    return await ctx.systems.views.get(caller, run_id)


@router.post("/runs/{run_id}/cancel")
async def cancel_run(
    ctx: ContextDep, caller: Writer, run_id: ObjectId, body: CancelIn | None = None
) -> dict[str, Any]:
    """Cancel a running run: open orders are cancelled, finished tasks compensated."""
    await ctx.systems.runs.cancel(caller, run_id, body.reason if body else "")
    return await ctx.systems.views.get(caller, run_id)


@router.post("/runs/{run_id}/tasks/{task}/rating", status_code=status.HTTP_201_CREATED)
async def rate_task(
    ctx: ContextDep, caller: Writer, run_id: ObjectId, task: TaskKey, body: RatingIn
) -> dict[str, Any]:
    """Rate a finished task of your run, once: the rating feeds the provider's reputation."""
    return await ctx.systems.views.rate(caller, run_id, task, body.stars, body.comment, body.attempt)


@router.get("/reputation/offers/{offer_id}")
async def offer_reputation(ctx: ContextDep, caller: Reader, offer_id: ObjectId) -> dict[str, Any]:
    """An offer's Beta reputation (aged evidence from executions and ratings) and its provider's."""
    return await ctx.systems.offer_reputation(caller, offer_id)


@router.get("/reports/provider")
async def provider_report(ctx: ContextDep, caller: Reader) -> dict[str, Any]:
    """Your offers as delivered: executions, success rate, actual against promised time, cost, ratings."""
    return await ctx.systems.reports.provider(caller)


@router.get("/reports/operator")
async def operator_report(ctx: ContextDep, caller: Reader) -> dict[str, Any]:
    """Every running system, active SLA alarms and every provider's record (operators only)."""
    return await ctx.systems.reports.operator(caller)
