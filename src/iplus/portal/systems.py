"""Portal pages of smart service systems: build a requirement, read the plan, run it, rate it, report."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from iplus.core.errors import InvalidInput, IplusError
from iplus.core.roles import Role
from iplus.platform.systems.requirement import parse_requirement
from iplus.platform.systems.runviews import RATED_STATES
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.portal.systems_view import bars, constraint_rows, gantt, number, task_titles
from iplus.security.principal import Principal

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
MAX_DOCUMENT = 1_000_000  # characters of requirement JSON: 200 tasks with every constraint fit many times
MAX_FIELD = 20_000
MAX_LISTED = 100
SAMPLE = {
    "name": "Night maintenance",
    "graph": {"sequence": []},
    "constraints": {"deadline_h": 8, "budget": 500, "currency": "EUR"},
}


def _capability_types(request: Request) -> list[dict[str, str]]:
    tax = context_of(request).offers.taxonomy
    # the type's own name first: the path's domain and family only tell similar names apart
    return [
        {"id": n.id, "label": f"{n.title} ({' / '.join(n.path.split('/')[1:-1])})"}
        for n in tax.nodes()
        if n.kind == "capability" and n.depth >= 2
    ]


def _errors(exc: IplusError) -> list[str]:
    """Every problem an error lists, or its one message."""
    listed = exc.extra.get("errors")
    return [str(e) for e in listed] if isinstance(listed, list) and listed else [exc.detail]


def _loads(raw: str, name: str, problems: list[str]) -> Any:
    """The JSON text read, or None with the problem named."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        problems.append(f"{name}: not JSON ({exc})")
    except RecursionError:  # Python's reader gives up on a few thousand open brackets
        problems.append(f"{name}: not JSON (nested too deeply)")
    return None


def _json_field(raw: str, name: str, problems: list[str]) -> Any:
    return _loads(raw, name, problems) if raw.strip() else None


def _scalar(raw: str, kind: type[int] | type[float]) -> Any:
    """A typed number when the text is one; the text otherwise, for the service to refuse with its reason."""
    text = raw.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


# user: systems, the builder, plans ----------------------------------------------------
@router.get("/portal/systems")
async def systems_page(request: Request, principal: Session) -> Response:
    """The organisation's service systems and runs, with the way to build a new one."""
    ctx = context_of(request)
    systems, total = await ctx.systems.list(principal, limit=MAX_LISTED)
    runs, _ = await ctx.systems.views.list(principal, limit=MAX_LISTED)
    return render(
        request,
        "systems.html",
        principal,
        systems=systems,
        total=total,
        runs=[r for r in runs if r["org_id"] == principal.org_id or Role.OPERATOR in principal.roles],
        is_provider=Role.PROVIDER in principal.roles,
        is_operator=Role.OPERATOR in principal.roles,
    )


def _builder(
    request: Request, principal: Principal, document: str, errors: list[str], status: int = 200
) -> Response:
    return render(
        request,
        "system_new.html",
        principal,
        status=status,
        types=_capability_types(request),
        document=document,
        errors=errors,
    )


@router.get("/portal/systems/new")
async def builder_page(request: Request, principal: Session) -> Response:
    """The requirement builder: a task-graph editor that writes the JSON, or paste and upload it."""
    return _builder(request, principal, json.dumps(SAMPLE, indent=2), [])


@router.post("/portal/systems")
async def construct(request: Request, principal: Session) -> Response:
    """Build a system from the submitted requirement; its plan page, or the builder with every problem."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    document = str(form.get("requirement", ""))
    upload = form.get("file")
    problems: list[str] = []
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_DOCUMENT + 1)
        try:
            document = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"file: {upload.filename} is not UTF-8 text")
    if len(document) > MAX_DOCUMENT:
        problems.append(f"requirement: at most {MAX_DOCUMENT:,} characters")
    doc: Any = None
    if not problems:
        if not document.strip():
            problems.append("requirement: build the task graph above, paste its JSON or upload a file")
        else:
            doc = _loads(document, "requirement", problems)
    shown = document[:MAX_DOCUMENT]
    if problems:
        return _builder(request, principal, shown, problems, 422)
    try:
        built = await context_of(request).systems.construct(principal, doc)
    except InvalidInput as exc:
        return _builder(request, principal, shown, _errors(exc), 422)
    system, plan = built["system"], built["plan"]
    return RedirectResponse(f"/portal/systems/{system['id']}/plans/{plan['number']}", status_code=303)


@router.get("/portal/systems/tasks")
async def provider_tasks(request: Request, principal: Session) -> Response:
    """Tasks of users' runs ordered from this provider's offers, and the provider's delivery record."""
    principal.require_role(Role.PROVIDER)
    ctx = context_of(request)
    runs, _ = await ctx.systems.views.list(principal, limit=MAX_LISTED)
    tasks = []
    for run in runs:
        view = await ctx.systems.views.get(principal, run["id"])
        for t in view["tasks"]:
            # an organisation both user and provider sees its own runs whole: keep what it was ordered
            if t["provider_org_id"] == principal.org_id and t["order_id"]:
                tasks.append(t | {"run": run})
    report = await ctx.systems.reports.provider(principal)
    offers = report["offers"]
    promised = bars([o["mean_promised_time_h"] for o in offers] + [o["mean_actual_time_h"] for o in offers])
    chart = [
        {
            "title": o["title"],
            "promised": promised[i],
            "actual": promised[len(offers) + i],
            "success": round((o["success_rate"] or 0.0) * 260, 1),
            "row": o,
        }
        for i, o in enumerate(offers)
    ]
    return render(
        request, "system_tasks.html", principal, tasks=tasks, report=report, chart=chart, number=number
    )


@router.get("/portal/systems/overview")
async def operator_overview(request: Request, principal: Session) -> Response:
    """Every running system across organisations with its tasks' states, SLA alarms, and providers."""
    principal.require_role(Role.OPERATOR)
    ctx = context_of(request)
    report = await ctx.systems.reports.operator(principal)
    states = {}
    for row in report["running"][:MAX_LISTED]:
        view = await ctx.systems.views.get(principal, row["run_id"])
        newest: dict[str, dict[str, Any]] = {}
        for t in view["tasks"]:
            newest[t["key"]] = t  # tasks come by position and attempt: the last one is the newest
        states[row["run_id"]] = list(newest.values())
    return render(request, "system_operator.html", principal, report=report, states=states, number=number)


@router.get("/portal/systems/{system_id}")
async def system_page(request: Request, principal: Session, system_id: str) -> Response:
    """A system opens on its newest plan."""
    system = await context_of(request).systems.get(principal, system_id)
    newest = max((p["number"] for p in system["plans"]), default=1)
    return RedirectResponse(f"/portal/systems/{system_id}/plans/{newest}", status_code=303)


async def _plan_page(
    request: Request,
    principal: Principal,
    system_id: str,
    number_: int,
    errors: list[str] | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    ctx = context_of(request)
    system = await ctx.systems.get(principal, system_id)
    plan = await ctx.systems.plan(principal, system_id, number_)
    requirement = system["requirement"]
    req = parse_requirement(requirement)
    runs, _ = await ctx.systems.views.list(principal, system_id=system_id, limit=MAX_LISTED)
    constraints = requirement.get("constraints") or {}
    return render(
        request,
        "system_plan.html",
        principal,
        status=status,
        system=system,
        plan=plan,
        tasks=req.tasks(),
        places=task_titles(req.root),
        constraints=constraints,
        limits=constraint_rows(plan["aggregate"] or {}, constraints),
        weights=req.weights,
        gantt=gantt(plan["schedule"]),
        forecast=plan["forecast"],
        runs=runs,
        own=system["org_id"] == principal.org_id,
        errors=errors or [],
        form=form or {},
        requirement_text=json.dumps(requirement, indent=2),
        number=number,
    )


@router.get("/portal/systems/{system_id}/plans/{number_}")
async def plan_page(request: Request, principal: Session, system_id: str, number_: int) -> Response:
    """One plan: chosen services and why, aggregate QoS against the constraints, timetable, forecast."""
    return await _plan_page(request, principal, system_id, number_)


@router.post("/portal/systems/{system_id}/plans")
async def replan(request: Request, principal: Session, system_id: str) -> Response:
    """Plan again with today's offers and reputations."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    built = await context_of(request).systems.replan(principal, system_id)
    return RedirectResponse(f"/portal/systems/{system_id}/plans/{built['plan']['number']}", status_code=303)


@router.post("/portal/systems/{system_id}/runs")
async def start_run(request: Request, principal: Session, system_id: str) -> Response:
    """Run a plan; the run page, or the plan page with every problem."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    fields = {k: str(v)[:MAX_FIELD] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    plan_number = _scalar(fields.get("plan", ""), int)
    if not isinstance(plan_number, int) or plan_number < 1:
        plan_number = None  # the newest
    problems: list[str] = []
    status = 422
    choices = _json_field(fields.get("choices", ""), "choices", problems)
    inputs = _json_field(fields.get("inputs", ""), "inputs", problems)
    if not problems:
        try:
            run_id = await context_of(request).systems.runs.start_run(
                principal,
                system_id,
                plan_number,
                choices=choices,
                seed=_scalar(fields.get("seed", ""), int),
                inputs=inputs,
                slack=_scalar(fields.get("slack", ""), float),
            )
        except IplusError as exc:  # a missing system or plan shows as such when the page is drawn again
            problems, status = _errors(exc), exc.status
        else:
            return RedirectResponse(f"/portal/runs/{run_id}", status_code=303)
    system = await context_of(request).systems.get(principal, system_id)
    numbers = [p["number"] for p in system["plans"]]
    if plan_number not in numbers:
        # the page to show the problems on: the plan asked for if it exists, else the newest
        plan_number = max(numbers, default=1)
    return await _plan_page(request, principal, system_id, plan_number, problems, status, fields)


# runs --------------------------------------------------------------------------------
async def _run_page(
    request: Request, principal: Principal, run_id: str, errors: list[str] | None = None, status: int = 200
) -> Response:
    run = await context_of(request).systems.views.get(principal, run_id)
    return render(
        request,
        "run.html",
        principal,
        status=status,
        run=run,
        own=run["org_id"] == principal.org_id,
        rated_states=sorted(RATED_STATES),
        alarms=[e for e in run["history"] if e["kind"] == "sla"],
        errors=errors or [],
        number=number,
    )


@router.get("/portal/runs/{run_id}")
async def run_page(request: Request, principal: Session, run_id: str) -> Response:
    """A run: its tasks with their states and orders, SLA alarms, history, cancel and ratings."""
    return await _run_page(request, principal, run_id)


@router.get("/portal/runs/{run_id}/snapshot")
async def run_snapshot(request: Request, principal: Session, run_id: str) -> Response:
    """The run as JSON, for the page to follow it."""
    run = await context_of(request).systems.views.get(principal, run_id)
    return JSONResponse(run, headers={"Cache-Control": "no-store"})


@router.post("/portal/runs/{run_id}/cancel")
async def cancel_run(request: Request, principal: Session, run_id: str) -> Response:
    """Cancel a running run: its open orders are cancelled, finished tasks compensated."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    try:
        await context_of(request).systems.runs.cancel(
            principal, run_id, str(form.get("reason", ""))[:MAX_FIELD]
        )
    except IplusError as exc:  # a run that is not there shows as such when the page is drawn again
        return await _run_page(request, principal, run_id, _errors(exc), exc.status)
    return RedirectResponse(f"/portal/runs/{run_id}", status_code=303)


@router.post("/portal/runs/{run_id}/rating")
async def rate_task(request: Request, principal: Session, run_id: str) -> Response:
    """Rate one finished task of the run, once."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    key = str(form.get("task", ""))[:200]
    try:
        await context_of(request).systems.views.rate(
            principal,
            run_id,
            key,
            _scalar(str(form.get("stars", "")), int),
            str(form.get("comment", ""))[:MAX_FIELD],
            _scalar(str(form.get("attempt", "")), int),
        )
    except IplusError as exc:
        return await _run_page(request, principal, run_id, _errors(exc), exc.status)
    return RedirectResponse(f"/portal/runs/{run_id}", status_code=303)
