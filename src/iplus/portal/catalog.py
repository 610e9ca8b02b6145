"""Portal pages of the service catalog: offers for providers, users and operators; comparing; orders live."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from iplus.core.errors import InvalidInput
from iplus.core.roles import Role
from iplus.platform.catalog.finder import OfferQuery
from iplus.platform.catalog.spec import OfferSpec, Window
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.security.principal import Principal

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
SAMPLE_INPUTS = {
    "type": "object",
    "properties": {
        "material": {"type": "string"},
        "quantity": {"type": "integer", "unit": "1", "minimum": 1},
    },
    "required": ["material", "quantity"],
}


def _capability_types(request: Request) -> list[Any]:
    tax = context_of(request).offers.taxonomy
    return [n for n in tax.nodes() if n.kind == "capability" and n.depth >= 2]


def _number(form: dict[str, str], name: str, problems: list[str]) -> float:
    raw = form.get(name, "").strip()
    try:
        return float(raw)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a number")
        return 0.0


def _utc(raw: str, name: str, problems: list[str]) -> datetime | None:
    """A ``datetime-local`` value, read as UTC."""
    if not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=UTC)
    except ValueError:
        problems.append(f"{name}: not a date and time")
        return None


def _json(raw: str, name: str, default: Any, problems: list[str]) -> Any:
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        problems.append(f"{name}: not JSON ({exc})")
        return default


def _offer_spec(form: dict[str, str], things: list[str]) -> OfferSpec:
    problems: list[str] = []
    values: dict[str, float | int] = {}
    for k in ("price", "time", "reliability", "availability", "capacity"):
        number = _number(form, k, problems)
        # 240 stays 240 in the stored declaration, not 240.0
        values[k] = int(number) if number.is_integer() else number
    start = _utc(form.get("calendar_start", ""), "calendar_start", problems)
    end = _utc(form.get("calendar_end", ""), "calendar_end", problems)
    calendar: tuple[Window, ...] = ()
    if start and end:
        if start >= end:
            problems.append("calendar: start must come before end")
        else:
            calendar = (Window(start, end),)
    inputs = _json(form.get("inputs", ""), "inputs", {"type": "object", "properties": {}}, problems)
    sla = _json(form.get("sla", ""), "sla", {}, problems)
    if problems:
        raise InvalidInput("the offer is not valid", errors=problems)
    return OfferSpec(
        title=form.get("title", ""),
        description=form.get("description", ""),
        capability_type=form.get("capability_type", ""),
        inputs=inputs,
        qos={
            "price": {"value": values["price"], "unit": form.get("currency", "EUR").strip().upper()},
            "time": {"value": values["time"], "unit": form.get("time_unit", "h")},
            "reliability": {"value": values["reliability"], "unit": "1"},
            "availability": {"value": values["availability"], "unit": "1"},
            "capacity": {"value": values["capacity"], "unit": "orders"},
        },
        calendar=calendar,
        sla=sla,
        things=tuple(things),
    )


async def _own_things(request: Request, principal: Principal) -> list[Any]:
    if Role.PROVIDER not in principal.roles:
        return []
    return list(await context_of(request).virtual.list_own(principal, limit=200))


@router.get("/portal/offers")
async def offers_page(
    request: Request,
    principal: Session,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    max_price: Annotated[str | None, Query(max_length=30)] = None,
    min_reliability: Annotated[str | None, Query(max_length=30)] = None,
    stage: Annotated[str | None, Query(pattern="^(draft|published|suspended|retired)?$")] = None,
) -> Response:
    """Search the published offers; providers see their own offers, operators every offer and statistics."""
    ctx = context_of(request)
    problems: list[str] = []
    bounds = {
        name: _number({name: raw}, name, problems) if raw else None
        for name, raw in (("max_price", max_price), ("min_reliability", min_reliability))
    }
    query = OfferQuery(
        text=q or None,
        type=type or None,
        max_price=bounds["max_price"],
        min_reliability=bounds["min_reliability"],
        stage=stage or None,
        limit=100,
    )
    found, total = ([], 0) if problems else await ctx.offers.search(principal, query)
    mine = (await ctx.offers.search(principal, OfferQuery(mine=True, limit=200)))[0]
    stats = None
    if Role.OPERATOR in principal.roles:
        stats = {**await ctx.offers.statistics(), "orders_by_status": await ctx.orders.statistics()}
    return render(
        request,
        "offers.html",
        principal,
        found=found,
        total=total,
        mine=mine,
        stats=stats,
        types=_capability_types(request),
        filters={
            "q": q or "",
            "type": type or "",
            "max_price": max_price or "",
            "min_reliability": min_reliability or "",
            "stage": stage or "",
        },
        errors=problems,
        is_provider=Role.PROVIDER in principal.roles,
        is_operator=Role.OPERATOR in principal.roles,
    )


@router.get("/portal/offers/new")
async def new_offer_page(request: Request, principal: Session) -> Response:
    """The form a provider publishes an offer with."""
    return render(
        request,
        "offer_new.html",
        principal,
        types=_capability_types(request),
        things=await _own_things(request, principal),
        draft={"inputs": json.dumps(SAMPLE_INPUTS, indent=2), "currency": "EUR", "time_unit": "h"},
        errors=[],
    )


@router.post("/portal/offers")
async def create_offer(request: Request, principal: Session) -> Response:
    """Create the offer from the form (a draft); its page offers publishing."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    fields = {k: str(v)[:20_000] for k, v in form.items() if k != "things"}
    things = [str(t) for t in form.getlist("things")][:50]
    try:
        view = await context_of(request).offers.create(principal, _offer_spec(fields, things))
    except InvalidInput as exc:
        return render(
            request,
            "offer_new.html",
            principal,
            status=422,
            types=_capability_types(request),
            things=await _own_things(request, principal),
            draft=fields,
            errors=exc.extra.get("errors") or [exc.detail],
        )
    return RedirectResponse(f"/portal/offers/{view.offer.id}", status_code=303)


@router.get("/portal/offers/compare")
async def compare_page(
    request: Request,
    principal: Session,
    ids: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006
) -> Response:
    """Offers side by side: type, QoS with units, calendar and SLA."""
    ctx = context_of(request)
    views = [await ctx.offers.get(principal, i) for i in ids[:10]]
    return render(request, "offer_compare.html", principal, views=views)


@router.get("/portal/offers/{offer_id}")
async def offer_page(request: Request, principal: Session, offer_id: str) -> Response:
    """One offer: its version, versions, history (provider, operator), stage buttons and the order form."""
    return await _offer_page(request, principal, offer_id, errors=[], status=200)


async def _offer_page(
    request: Request, principal: Principal, offer_id: str, errors: list[str], status: int
) -> Response:
    ctx = context_of(request)
    view = await ctx.offers.get(principal, offer_id)
    own = view.offer.org_id == principal.org_id
    history = await ctx.offers.history(principal, offer_id) if own or Role.OPERATOR in principal.roles else []
    fields = [
        {
            "name": n,
            "type": s.get("type"),
            "unit": s.get("unit", ""),
            "required": n in (view.version.inputs.get("required") or []),
            "enum": [str(v) for v in s["enum"]] if isinstance(s.get("enum"), list) else None,
            "pattern": s.get("pattern"),
            "description": str(s.get("description") or "")[:300],
        }
        for n, s in (view.version.inputs.get("properties") or {}).items()
        if isinstance(s, dict)
    ]
    return render(
        request,
        "offer.html",
        principal,
        status=status,
        view=view,
        own=own,
        versions=await ctx.offers.versions(principal, offer_id),
        history=history,
        fields=fields,
        errors=errors,
        is_operator=Role.OPERATOR in principal.roles,
    )


@router.post("/portal/offers/{offer_id}/stage")
async def move_offer(request: Request, principal: Session, offer_id: str) -> Response:
    """Publish, suspend or retire (operators suspend with a reason)."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    await context_of(request).offers.move(
        principal, offer_id, str(form.get("stage", ""))[:20], str(form.get("reason", ""))[:2000]
    )
    return RedirectResponse(f"/portal/offers/{offer_id}", status_code=303)


@router.post("/portal/offers/{offer_id}/order")
async def order_offer(request: Request, principal: Session, offer_id: str) -> Response:
    """Order the offer with typed parameters for a window (UTC)."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    ctx = context_of(request)
    view = await ctx.offers.get(principal, offer_id)
    problems: list[str] = []
    params: dict[str, Any] = {}
    for name, schema in (view.version.inputs.get("properties") or {}).items():
        raw = str(form.get(f"in-{name}", "")).strip()[:1000]
        if not raw:
            continue
        kind = schema.get("type") if isinstance(schema, dict) else None
        if kind in ("number", "integer"):
            number = _number({name: raw}, name, problems)
            params[name] = int(number) if kind == "integer" and number.is_integer() else number
        elif kind == "boolean":
            params[name] = raw.lower() in ("1", "true", "yes", "on")
        else:
            params[name] = raw
    start = _utc(str(form.get("window_start", "")), "window_start", problems)
    end = _utc(str(form.get("window_end", "")), "window_end", problems)
    if start is None or end is None:
        problems.append("window: give a start and an end")
    try:
        if problems or start is None or end is None:
            raise InvalidInput("the order is not valid", errors=problems)
        order = await ctx.orders.place(principal, offer_id, params, Window(start, end))
    except InvalidInput as exc:
        return await _offer_page(request, principal, offer_id, exc.extra.get("errors") or [exc.detail], 422)
    return RedirectResponse(f"/portal/orders/{order.id}", status_code=303)


@router.get("/portal/orders")
async def orders_page(request: Request, principal: Session) -> Response:
    """Orders placed by the organisation and orders it received, newest first."""
    ctx = context_of(request)
    placed = (await ctx.orders.list(principal, role="user", limit=200))[0]
    received = (await ctx.orders.list(principal, role="provider", limit=200))[0]
    return render(request, "orders.html", principal, placed=placed, received=received)


@router.post("/portal/orders/{order_id}/status")
async def move_order(request: Request, principal: Session, order_id: str) -> Response:
    """Accept, reject, start, complete or cancel an order."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    await context_of(request).orders.move(
        principal, order_id, str(form.get("status", ""))[:20], str(form.get("reason", ""))[:2000]
    )
    back = str(form.get("back", ""))[:200]
    # only our own pages: anything else would be an open redirect
    target = back if back.startswith("/portal/") else f"/portal/orders/{order_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/portal/orders/{order_id}")
async def order_page(request: Request, principal: Session, order_id: str) -> Response:
    """One order: status, history, progress, the grounding devices' live state and the deliverable."""
    orders = context_of(request).orders
    live = await orders.live(principal, order_id)
    order = live["order"]
    return render(
        request,
        "order.html",
        principal,
        order=order,
        deliverable=await orders.deliverables.find(principal, order_id),
        devices=live["devices"],
        is_provider=order.provider_org_id == principal.org_id,
        is_user=order.org_id == principal.org_id,
    )


@router.get("/portal/orders/{order_id}/live")
async def order_live(request: Request, principal: Session, order_id: str) -> Response:
    """The order's status, progress and devices as JSON, for the page to poll."""
    live = await context_of(request).orders.live(principal, order_id)
    order = live["order"]
    return JSONResponse(
        {
            "status": order.status,
            "progress": order.progress,
            "twin_state": order.twin_state,
            "history": order.history,
            "devices": live["devices"],
        },
        headers={"Cache-Control": "no-store"},
    )
