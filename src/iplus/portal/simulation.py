"""Portal pages for simulation: pick a scenario and run it, watch progress, plot results, compare runs."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from iplus.core.errors import InvalidInput
from iplus.infra.db.models_sim import SimRun
from iplus.platform.simulation import RunSpec
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _whole(raw: str, what: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be a whole number") from exc


def spec_from_form(form: dict[str, str]) -> RunSpec:
    """The run the form asks for: ``p.<kind>.<param>`` fields hold JSON values of the picked kind."""
    kind = form.get("kind", "")
    prefix = f"p.{kind}."
    params = {
        k[len(prefix) :]: _json_or_text(v) for k, v in form.items() if k.startswith(prefix) and v.strip()
    }
    sweep: dict[str, list[Any]] = {}
    for line in form.get("sweep", "").splitlines():
        if not line.strip():
            continue
        name, sep, raw = line.partition("=")
        raw = raw.strip()
        if not sep or not raw:
            raise InvalidInput(f"sweep line {line!r}: write name=value1,value2")
        values = (
            _json_or_text(raw) if raw.startswith("[") else [_json_or_text(v.strip()) for v in raw.split(",")]
        )
        if not isinstance(values, list):
            raise InvalidInput(f"sweep line {line!r}: needs a list of values")
        sweep[name.strip()] = values
    devices = [d.strip() for d in form.get("devices", "").split(",") if d.strip()]
    return RunSpec(
        kind=kind,
        params=params,
        seed=_whole(form.get("seed", "1") or "1", "seed"),
        replications=_whole(form.get("replications", "1") or "1", "replications"),
        sweep=sweep or None,
        device_ids=devices or None,
        name=form.get("name", "")[:200],
    )


def _run_json(run: SimRun) -> dict[str, Any]:
    return {"id": run.id, "status": run.status, "done": run.done, "total": run.total, "error": run.error}


async def _page(request: Request, principal: Any, status: int = 200, **values: Any) -> Response:
    ctx = context_of(request)
    return render(
        request,
        "simulation.html",
        principal,
        status=status,
        scenarios=ctx.simulations.scenarios(),
        runs=await ctx.simulations.list_runs(principal, limit=50),
        json=json,
        **values,
    )


@router.get("/portal/simulation")
async def simulation_page(request: Request, principal: Session) -> Response:
    """Scenario picker with a parameter form, and the organisation's runs with their progress."""
    return await _page(request, principal, error=None, form={})


@router.post("/portal/simulation/runs")
async def start_run(request: Request, principal: Session) -> Response:
    """Start a run from the form; a refused one shows the form again with every reason."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request.session, form.get("csrf_token"))
    try:
        run = await context_of(request).simulations.start(principal, spec_from_form(form))
    except InvalidInput as exc:
        return await _page(request, principal, status=422, error=exc.detail, form=form)
    return RedirectResponse(f"/portal/simulation/runs/{run.id}", status_code=303)


@router.get("/portal/simulation/runs.json")
async def runs_json(request: Request, principal: Session) -> Response:
    """Status and progress of the latest runs, for the progress bars."""
    runs = await context_of(request).simulations.list_runs(principal, limit=50)
    return JSONResponse([_run_json(r) for r in runs], headers={"Cache-Control": "no-store"})


@router.get("/portal/simulation/runs/{run_id}")
async def run_page(request: Request, principal: Session, run_id: str) -> Response:
    """A run: progress while it runs, then a KPI table per parameter set and plots of the time series."""
    ctx = context_of(request)
    run = await ctx.simulations.get(principal, run_id)
    results = await ctx.simulations.results(principal, run_id)
    units: dict[str, str] = next(
        (s["kpis"] for s in ctx.simulations.scenarios() if s["kind"] == run.kind), {}
    )
    return render(request, "simulation_run.html", principal, run=run, results=results, units=units, json=json)


@router.get("/portal/simulation/runs/{run_id}/data")
async def run_data(request: Request, principal: Session, run_id: str) -> Response:
    """A run's status and, once finished, each parameter set's time series (for uPlot)."""
    ctx = context_of(request)
    run = await ctx.simulations.get(principal, run_id)
    results = await ctx.simulations.results(principal, run_id)
    body = _run_json(run) | {"results": [{"params": r.params, "series": r.series} for r in results]}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/portal/simulation/compare")
async def compare_page(request: Request, principal: Session, ids: Annotated[list[str], Query()]) -> Response:
    """Two or more finished runs side by side: their parameters and KPI means, and their plots."""
    table = await context_of(request).simulations.compare(principal, ids)
    return render(request, "simulation_compare.html", principal, table=table, json=json)
