"""Portal pages of health and elderly care: the care home, the caregiver's alarms, records, CGM, visits.

Personal data is shown only where a page states why: the caregiver page reads its residents' names
("caregiver page"), the record page opens the record for the purpose chosen in its form, the CGM page
reads the glucose history ("CGM trend review"); each is an entry of the access log. Lists, alarms and
live vitals show room labels only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from iplus.apps.health.cgm import TARGETS
from iplus.apps.health.service import care
from iplus.apps.health.visits import FOCUS
from iplus.core.clock import utcnow
from iplus.core.errors import Forbidden, InvalidInput, IplusError
from iplus.core.roles import Role
from iplus.infra.telemetry import Selection
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.security.principal import Principal

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
PURPOSES = (
    "care round",
    "care planning",
    "shift handover",
    "medication review",
    "responding to an alarm",
    "family enquiry",
)
CAREGIVER_PURPOSE = "caregiver page: my residents and their alarms"
CGM_PURPOSE = "CGM trend review (portal)"
CHART_KEYS = ("heart_rate", "respiration_rate", "spo2", "systolic_bp", "temperature")
ORDER_MOVES = {
    "requested": (("accepted", "Accept"), ("rejected", "Reject")),
    "accepted": (("in_progress", "Start visit"),),
    "in_progress": (("completed", "Complete"), ("failed", "Could not visit")),
}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json", headers={"Cache-Control": "no-store"})


def _require(principal: Principal, role: Role) -> None:
    if role not in principal.roles:
        raise Forbidden(f"this page is for organisations with the {role.value} role")


# the care home ---------------------------------------------------------------------------
@router.get("/portal/health")
async def dashboard(request: Request, principal: Session) -> Response:
    """The health domain's home: the care home's residents live, the family's visits, the operator's log."""
    ctx = context_of(request)
    services = care(ctx)
    residents = await services.overview(principal) if Role.PROVIDER in principal.roles else []
    visits = await services.visits.of_family(principal, limit=5) if Role.USER in principal.roles else []
    mine = set(await services.records.cared_for(principal))
    return render(
        request,
        "domain_health.html",
        principal,
        residents=residents,
        visits=visits,
        mine=mine,
        organisations=await ctx.accounts.list_organisations(principal)
        if Role.OPERATOR in principal.roles
        else [],
    )


@router.get("/portal/health/overview")
async def overview_rows(request: Request, principal: Session) -> Response:
    """The residents' grid as JSON, fetched again when a NEWS2 or alarm event arrives."""
    _require(principal, Role.PROVIDER)
    return _json(await care(context_of(request)).overview(principal))


@router.get("/portal/health/caregiver")
async def caregiver(request: Request, principal: Session) -> Response:
    """The caregiver's page: the residents in their care, their NEWS2 and the alarms to acknowledge."""
    services = care(context_of(request))
    mine = await services.records.cared_for(principal)
    residents = [r for r in await services.overview(principal) if r["id"] in mine] if mine else []
    names = await services.records.names(principal, mine, CAREGIVER_PURPOSE) if mine else {}
    alarms = await services.caregiver_alarms(principal)
    return render(
        request, "domain_health_caregiver.html", principal, residents=residents, names=names, alarms=alarms
    )


@router.get("/portal/health/caregiver/rows")
async def caregiver_rows(request: Request, principal: Session) -> Response:
    """The caregiver's alarms and residents' scores as JSON (labels only: no personal data, no log)."""
    services = care(context_of(request))
    mine = await services.records.cared_for(principal)
    residents = [r for r in await services.overview(principal) if r["id"] in mine] if mine else []
    return _json(
        {
            "alarms": await services.caregiver_alarms(principal),
            "residents": [{"id": r["id"], "label": r["label"], "news2": r["news2"]} for r in residents],
        }
    )


@router.post("/portal/health/alarms/{alarm_id}/ack")
async def acknowledge(
    request: Request,
    principal: Session,
    alarm_id: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Acknowledge a NEWS2 alarm of a resident in the caregiver's care."""
    check_csrf(request.session, csrf_token)
    await care(context_of(request)).acknowledge(principal, alarm_id)
    return RedirectResponse("/portal/health/caregiver", status_code=303)


# residents -------------------------------------------------------------------------------
@router.get("/portal/health/residents/new")
async def new_resident(request: Request, principal: Session) -> Response:
    """The admission form (administrators)."""
    principal.require_admin()
    ctx = context_of(request)
    devices = await ctx.registry.list_devices(principal, limit=500)
    return render(
        request, "domain_health_resident_new.html", principal, devices=devices, problems=[], form={}
    )


@router.post("/portal/health/residents")
async def admit(
    request: Request,
    principal: Session,
    label: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=200)],
    birth_date: Annotated[str, Form(max_length=10)],
    conditions: Annotated[str, Form(max_length=5000)] = "",
    wearable_id: Annotated[str, Form(max_length=64)] = "",
    cgm_id: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    purpose: Annotated[str, Form(max_length=500)] = "admission",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Admit a resident; problems are shown beside the form."""
    check_csrf(request.session, csrf_token)
    ctx = context_of(request)
    doc: dict[str, Any] = {
        "label": label,
        "name": name,
        "birth_date": birth_date,
        "conditions": [c.strip() for c in conditions.splitlines() if c.strip()],
        "wearable_id": wearable_id or None,
        "cgm_id": cgm_id or None,
    }
    if note.strip():
        doc["note"] = note
    try:
        made = await care(ctx).admit(principal, doc, purpose)
    except InvalidInput as exc:
        devices = await ctx.registry.list_devices(principal, limit=500)
        problems = exc.extra.get("errors") or [exc.detail]
        form = doc | {"conditions": conditions, "note": note}
        return render(
            request,
            "domain_health_resident_new.html",
            principal,
            devices=devices,
            problems=problems,
            form=form,
            status=422,
        )
    return RedirectResponse(f"/portal/health/residents/{made['id']}", status_code=303)


@router.get("/portal/health/residents/{resident_id}")
async def resident(
    request: Request,
    principal: Session,
    resident_id: str,
    purpose: Annotated[str | None, Query(max_length=500)] = None,
    other: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """A resident: live NEWS2 and vitals by label; the personal record once a purpose is chosen (logged)."""
    ctx = context_of(request)
    services = care(ctx)
    public = await services.records.get(principal, resident_id)
    why = (other or "").strip() or (purpose or "").strip()
    opened = await services.records.read(principal, resident_id, why) if why else None
    members = await ctx.accounts.list_members(principal.org_id, limit=500) if principal.is_admin else []
    assessed = await services.latest_assessments(principal.org_id, [resident_id])
    alarms = await services.news2_alarms(principal, resident_ids=[resident_id], active_only=False)
    return render(
        request,
        "domain_health_resident.html",
        principal,
        r=public,
        opened=opened,
        purposes=PURPOSES,
        chosen=why,
        members=members,
        news2=assessed.get(resident_id),
        alarms=alarms[:10],
    )


@router.get("/portal/health/residents/{resident_id}/series")
async def resident_series(
    request: Request,
    principal: Session,
    resident_id: str,
    hours: Annotated[float, Query(gt=0, le=48)] = 2,
) -> Response:
    """The wearable's vital signs and the NEWS2 assessments of the last hours, for the charts (JSON)."""
    ctx = context_of(request)
    services = care(ctx)
    public = await services.records.get(principal, resident_id)
    end = utcnow()
    start = end - timedelta(hours=hours)
    rows = []
    if public["wearable_id"]:
        rows = await ctx.telemetry.readings(
            Selection(principal.org_id, [public["wearable_id"]], list(CHART_KEYS), start, end), limit=50_000
        )
    stamps = sorted({r.ts.timestamp() for r in rows})
    index = {t: i for i, t in enumerate(stamps)}
    series: dict[str, list[float | None]] = {k: [None] * len(stamps) for k in CHART_KEYS}
    for r in rows:
        if isinstance(r.value, int | float) and not isinstance(r.value, bool):
            series[r.key][index[r.ts.timestamp()]] = float(r.value)
    history = [
        a for a in await services.history(principal, resident_id) if a["observed_at"] >= start.isoformat()
    ]
    return _json({"t": stamps, "series": series, "news2": history})


@router.post("/portal/health/residents/{resident_id}/notes")
async def add_note(
    request: Request,
    principal: Session,
    resident_id: str,
    text: Annotated[str, Form(max_length=5000)],
    purpose: Annotated[str, Form(max_length=500)] = "care delivery",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a caregiver note to the sealed record, then show the record again (logged as a read)."""
    check_csrf(request.session, csrf_token)
    await care(context_of(request)).records.add_note(principal, resident_id, text, purpose)
    return RedirectResponse(f"/portal/health/residents/{resident_id}?other={quote(purpose)}", status_code=303)


@router.post("/portal/health/residents/{resident_id}/caregivers")
async def assign(
    request: Request,
    principal: Session,
    resident_id: str,
    user_id: Annotated[str, Form(max_length=26)],
    remove: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Assign a member of the organisation as a caregiver of the resident, or take one off."""
    check_csrf(request.session, csrf_token)
    records = care(context_of(request)).records
    if remove:
        await records.unassign(principal, resident_id, user_id)
    else:
        await records.assign(principal, resident_id, user_id)
    return RedirectResponse(f"/portal/health/residents/{resident_id}", status_code=303)


@router.get("/portal/health/residents/{resident_id}/cgm")
async def cgm_page(
    request: Request,
    principal: Session,
    resident_id: str,
    days: Annotated[int, Query(ge=1, le=120)] = 28,
    targets: Annotated[str, Query(pattern="^(standard|older_high_risk)$")] = "older_high_risk",
) -> Response:
    """Chronic-disease trend: the resident's CGM metrics per day and week, the trend and a chart."""
    report = await care(context_of(request)).glucose.report(
        principal, resident_id, CGM_PURPOSE, days=days, targets=targets
    )
    chart = {
        "t": [d["start"] for d in report["daily"]],
        "mean": [d["mean_glucose"] for d in report["daily"]],
        "tir": [d["time_in_range"] for d in report["daily"]],
        "tbr": [d["time_below_70"] for d in report["daily"]],
        "tar": [d["time_above_180"] for d in report["daily"]],
    }
    return render(request, "domain_health_cgm.html", principal, report=report, chart=chart, targets=TARGETS)


# access log ------------------------------------------------------------------------------
@router.get("/portal/health/access-log")
async def access_log(
    request: Request,
    principal: Session,
    org_id: Annotated[str | None, Query(max_length=26)] = None,
    resident_id: Annotated[str | None, Query(max_length=26)] = None,
    verify: Annotated[bool, Query()] = False,
) -> Response:
    """Who read, changed or exported which record, when and why (administrators, the operator's)."""
    ctx = context_of(request)
    log = care(ctx).records.log
    items, total = await log.entries(principal, org_id or None, resident_id=resident_id or None, limit=500)
    checked = await log.verify(principal, org_id or None) if verify else None
    organisations = (
        await ctx.accounts.list_organisations(principal) if Role.OPERATOR in principal.roles else []
    )
    return render(
        request,
        "domain_health_access.html",
        principal,
        items=items,
        total=total,
        checked=checked,
        org_id=org_id or principal.org_id,
        organisations=organisations,
    )


# visits ----------------------------------------------------------------------------------
async def _visits_page(
    request: Request, principal: Principal, error: str = "", status: int = 200
) -> Response:
    services = care(context_of(request))
    family = await services.visits.of_family(principal) if Role.USER in principal.roles else []
    received = await services.visits.received(principal) if Role.PROVIDER in principal.roles else []
    return render(
        request,
        "domain_health_visits.html",
        principal,
        family=family,
        received=received,
        focus=FOCUS,
        moves=ORDER_MOVES,
        error=error,
        status=status,
    )


@router.get("/portal/health/visits")
async def visits(request: Request, principal: Session) -> Response:
    """Families order visits and follow them; providers accept and carry out the visits ordered."""
    return await _visits_page(request, principal)


@router.post("/portal/health/visits")
async def order_visit(
    request: Request,
    principal: Session,
    title: Annotated[str, Form(max_length=150)] = "Care visit",
    focus: Annotated[str, Form(max_length=30)] = "companionship",
    nursing: Annotated[str, Form(max_length=5)] = "",
    deadline_h: Annotated[str, Form(max_length=10)] = "",
    budget: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A family orders a visit; the service system is built and run at once."""
    check_csrf(request.session, csrf_token)
    doc: dict[str, Any] = {"title": title, "focus": focus, "nursing": bool(nursing)}
    try:
        for key, raw in (("deadline_h", deadline_h), ("budget", budget)):
            if raw.strip():
                doc[key] = float(raw)
        await care(context_of(request)).visits.order(principal, doc)
    except ValueError:
        return await _visits_page(request, principal, "deadline and budget are numbers", 422)
    except IplusError as exc:
        problems = "; ".join(str(e) for e in exc.extra.get("errors", []) or [])
        return await _visits_page(
            request, principal, exc.detail + (f": {problems}" if problems else ""), exc.status
        )
    return RedirectResponse("/portal/health/visits", status_code=303)


@router.post("/portal/health/visit-orders/{order_id}/{to}")
async def move_order(
    request: Request,
    principal: Session,
    order_id: str,
    to: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The provider moves a care order on (accept, start, complete...)."""
    check_csrf(request.session, csrf_token)
    await care(context_of(request)).visits.move(principal, order_id, to)
    return RedirectResponse("/portal/health/visits", status_code=303)
