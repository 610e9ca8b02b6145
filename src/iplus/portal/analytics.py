"""Portal page "Analytics": a SQL editor, the result as a table and a chart, saved jobs and runs."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from iplus.core.errors import IplusError
from iplus.engines.batch.exports import MEDIA_TYPES, jsonable
from iplus.platform.analytics import JobSpec
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
EXAMPLE_SQL = (
    "SELECT date_trunc('minute', ts) AS minute, avg(value_num) AS mean\n"
    "FROM readings\nWHERE value_num IS NOT NULL\nGROUP BY 1\nORDER BY 1"
)


@router.get("/portal/analytics")
async def analytics_page(request: Request, principal: Session) -> Response:
    """The SQL editor, the organisation's jobs with their latest runs."""
    ctx = context_of(request)
    jobs = await ctx.analytics.list_jobs(principal)
    runs = {j.id: await ctx.analytics.list_runs(principal, j.id, limit=5) for j in jobs}
    return render(request, "analytics.html", principal, jobs=jobs, runs=runs, example=EXAMPLE_SQL)


@router.post("/portal/analytics/query")
async def analytics_query(
    request: Request,
    principal: Session,
    sql: Annotated[str, Form(max_length=20_000)],
    limit: Annotated[int, Form(ge=1, le=100_000)] = 10_000,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Run the editor's SQL; JSON for the page's script (errors too, with the database's message)."""
    check_csrf(request.session, csrf_token)
    try:
        result = await context_of(request).analytics.query(principal, sql, limit=limit)
    except IplusError as exc:
        return Response(
            orjson.dumps({"error": exc.detail}), status_code=exc.status, media_type="application/json"
        )
    rows = [[jsonable(v) for v in r] for r in result.rows]
    answer = {"columns": result.columns, "rows": rows, "truncated": result.truncated}
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/portal/analytics/jobs")
async def analytics_save(
    request: Request,
    principal: Session,
    name: Annotated[str, Form(max_length=100)],
    sql: Annotated[str, Form(max_length=20_000)],
    format: Annotated[str, Form(pattern="^(csv|parquet)$")] = "csv",
    schedule: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Save the editor's SQL as a job, optionally on a cron schedule."""
    check_csrf(request.session, csrf_token)
    spec = JobSpec(name=name, sql=sql, format=format, schedule=schedule.strip() or None)
    await context_of(request).analytics.create_job(principal, spec)
    return RedirectResponse("/portal/analytics", status_code=303)


@router.post("/portal/analytics/jobs/{job_id}/run")
async def analytics_run(
    request: Request, principal: Session, job_id: str, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Run a job now, then show the page again with the new run."""
    check_csrf(request.session, csrf_token)
    await context_of(request).analytics.run_job(principal, job_id)
    return RedirectResponse("/portal/analytics", status_code=303)


@router.get("/portal/analytics/runs/{run_id}/output")
async def analytics_output(request: Request, principal: Session, run_id: str) -> Response:
    """Download a run's file."""
    path, fmt = await context_of(request).analytics.output_file(principal, run_id)
    return FileResponse(path, media_type=MEDIA_TYPES.get(fmt), filename=f"run-{run_id}.{fmt}")
