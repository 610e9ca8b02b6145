"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from iplus.api.deps import ContextDep
from iplus.api.problems import problem
from iplus.api.schemas import HealthOut, Problem

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=HealthOut)
async def health(ctx: ContextDep) -> HealthOut:
    """Always 200 while the process lives; ``ready`` and ``backends`` tell each backend's state."""
    return HealthOut.model_validate(await ctx.health())


@router.get("/ready", response_model=HealthOut, responses={503: {"model": Problem}})
async def ready(ctx: ContextDep) -> HealthOut | JSONResponse:
    """200 when every backend answers; 503 problem+json naming the ones that do not."""
    report = HealthOut.model_validate(await ctx.health())
    if report.ready:
        return report
    down = [f"{name} ({b.detail})" for name, b in report.backends.items() if not b.ok]
    return problem(
        503,
        "not ready: " + ", ".join(down),
        slug="not-ready",
        title="Service not ready",
        backends=report.model_dump()["backends"],
    )
