"""Portal pages of the agriculture application: the farm dashboard, fields, irrigation decisions,
traceability batches with their QR codes, and the public page a QR code opens (no login)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from iplus.apps.agriculture.chain import KINDS
from iplus.apps.agriculture.scheduling import decision_dict
from iplus.apps.agriculture.service import agriculture
from iplus.apps.agriculture.trace import CODE_PATTERN, StepInput, qr_svg
from iplus.core.errors import InvalidInput, NotFound
from iplus.infra.telemetry import Selection
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
FINAL = ("acknowledged", "failed", "timed_out")
CODE = re.compile(CODE_PATTERN)
CHART_DAYS = 30


def _trace_url(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + f"/trace/{code}"


def _when(text: str) -> datetime | None:
    """A time from a form's datetime-local field (UTC) or ISO 8601 text with an offset; empty means now."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date and time", errors=["/at: e.g. 2026-07-01T08:30"]) from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _data(text: str) -> dict[str, Any]:
    """Details typed as ``key: value`` lines."""
    out: dict[str, Any] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise InvalidInput("details are key: value lines", errors=[f"/data/line {n}: no 'key: value'"])
        out[key.strip()[:100]] = value.strip()
    return out


@router.get("/portal/agriculture")
async def dashboard(request: Request, principal: Session) -> Response:
    """The farm: its weather, fields with live soil water and valve state, decisions, machinery, batches."""
    ctx = context_of(request)
    agri = agriculture(ctx)
    fields = await agri.field_views(principal)
    decisions = await agri.scheduler.decisions(principal, limit=20)
    titles = {f["id"]: f["title"] for f in fields}
    station_ids = sorted({f["station_id"] for f in fields if f.get("station_id")})
    machinery = sorted({m for f in fields for m in f.get("machinery", [])})
    latest: dict[str, dict[str, Any]] = {}
    if station_ids or machinery:
        for r in await ctx.telemetry.latest(Selection(principal.org_id, station_ids + machinery)):
            latest.setdefault(r.device_id, {})[r.key] = r.value
    return render(
        request,
        "domain_agriculture.html",
        principal,
        fields=fields,
        decisions=[(d, titles.get(d.field_id, d.field_id)) for d in decisions],
        stations={s: latest.get(s, {}) for s in station_ids},
        machinery={m: latest.get(m, {}) for m in machinery},
        batches=await agri.trace.batches(principal, limit=10),
    )


@router.get("/portal/agriculture/fields/{field_id}")
async def field_page(request: Request, principal: Session, field_id: str) -> Response:
    """A field: parameters, live state, and its decisions with the depletion they carried."""
    ctx = context_of(request)
    agri = agriculture(ctx)
    view = await agri.field_view(principal, await ctx.virtual.get_own(principal, field_id))
    decisions = await agri.scheduler.decisions(principal, field_id, limit=CHART_DAYS)
    chart = [
        {
            "day": d.day,
            "depletion": float(d.balance.get("depletion", 0.0)),
            "raw": float(d.balance.get("raw", 0.0)),
            "taw": float(d.balance.get("taw", 0.0)),
            "irrigate": d.irrigate,
        }
        for d in reversed(decisions)
    ]
    return render(
        request, "domain_agriculture_field.html", principal, field=view, decisions=decisions, chart=chart
    )


@router.post("/portal/agriculture/fields/{field_id}/decide")
async def decide(
    request: Request,
    principal: Session,
    field_id: str,
    day: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Decide now on the newest complete weather day (or the day given) and show the decision."""
    check_csrf(request.session, csrf_token)
    wanted = None
    if day.strip():
        try:
            wanted = date.fromisoformat(day.strip())
        except ValueError as exc:
            raise InvalidInput(f"{day!r} is not a date (YYYY-MM-DD)") from exc
    decision = await agriculture(context_of(request)).scheduler.decide(principal, field_id, wanted, "manual")
    return RedirectResponse(f"/portal/agriculture/decisions/{decision.id}", status_code=303)


@router.get("/portal/agriculture/decisions/{decision_id}")
async def decision_page(request: Request, principal: Session, decision_id: str) -> Response:
    """A decision: the weather it read, ET0 with its intermediates, the balance, and the valve command."""
    ctx = context_of(request)
    agri = agriculture(ctx)
    decision = await agri.scheduler.get(principal, decision_id)
    view = decision_dict(decision, await agri.scheduler.command_of(principal, decision))
    field = await ctx.virtual.get_own(principal, decision.field_id)
    waiting = view["command"] is not None and view["command"]["status"] not in FINAL
    return render(
        request, "domain_agriculture_decision.html", principal, d=view, field=field, refresh=waiting
    )


@router.get("/portal/agriculture/batches")
async def batches_page(request: Request, principal: Session) -> Response:
    """Batches with their codes, and a form to start one at its harvest."""
    agri = agriculture(context_of(request))
    return render(
        request,
        "domain_agriculture_batches.html",
        principal,
        batches=await agri.trace.batches(principal, limit=200),
        fields=await agri.scheduler.fields(principal),
    )


@router.post("/portal/agriculture/batches")
async def create_batch(
    request: Request,
    principal: Session,
    product: Annotated[str, Form(max_length=200)],
    actor: Annotated[str, Form(max_length=200)],
    quantity: Annotated[str, Form(max_length=30)] = "",
    unit: Annotated[str, Form(max_length=20)] = "kg",
    field_id: Annotated[str, Form(max_length=64)] = "",
    location: Annotated[str, Form(max_length=200)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    data: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Start a batch with its harvest."""
    check_csrf(request.session, csrf_token)
    try:
        amount = float(quantity) if quantity.strip() else None
    except ValueError as exc:
        raise InvalidInput("the quantity is not a number", errors=["/quantity"]) from exc
    record = await agriculture(context_of(request)).trace.create_batch(
        principal,
        product=product,
        quantity=amount,
        unit=unit or "kg",
        field_id=field_id or None,
        harvest=StepInput("harvest", actor, location, _when(at), _data(data)),
    )
    return RedirectResponse(f"/portal/agriculture/batches/{record.batch.id}", status_code=303)


@router.get("/portal/agriculture/batches/{batch_id}")
async def batch_page(request: Request, principal: Session, batch_id: str) -> Response:
    """A batch's record, whether it verifies, its QR code, and a form for the next step."""
    record = await agriculture(context_of(request)).trace.record(principal, batch_id)
    url = _trace_url(request, record.batch.code)
    kinds = [] if record.steps and record.steps[-1].kind == "shelf" else [k for k in KINDS if k != "harvest"]
    return render(
        request,
        "domain_agriculture_batch.html",
        principal,
        record=record,
        verification=record.verification(),
        url=url,
        qr=qr_svg(url),
        kinds=kinds,
    )


@router.post("/portal/agriculture/batches/{batch_id}/steps")
async def add_step(
    request: Request,
    principal: Session,
    batch_id: str,
    kind: Annotated[str, Form(max_length=20)],
    actor: Annotated[str, Form(max_length=200)],
    location: Annotated[str, Form(max_length=200)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    data: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Record the batch's next step."""
    check_csrf(request.session, csrf_token)
    step = StepInput(kind, actor, location, _when(at), _data(data))
    await agriculture(context_of(request)).trace.add_step(principal, batch_id, step)
    return RedirectResponse(f"/portal/agriculture/batches/{batch_id}", status_code=303)


@router.get("/trace/{code}")
async def public_trace(request: Request, code: str) -> Response:
    """The page a batch's QR code opens: its way from field to shelf and whether the record holds."""
    try:
        if not CODE.match(code):
            raise NotFound("no batch has this code")
        found = await agriculture(context_of(request)).public.lookup(code)
    except NotFound:
        return render(request, "domain_agriculture_trace.html", None, status=404, found=None, code=code[:40])
    return render(request, "domain_agriculture_trace.html", None, found=found, code=code)
