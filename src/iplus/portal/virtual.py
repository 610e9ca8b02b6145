"""Portal pages of the virtual layer: "My virtual things" (create, edit) and the pools browser."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from iplus.core.errors import InvalidInput
from iplus.infra.db.models_virtual import VirtualThing
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.security.principal import Principal
from iplus.virtual.query import query_from_params
from iplus.virtual.spec import ThingSpec, spec_from_dict
from iplus.virtual.things import ThingDetail

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
KINDS = ("resource", "capability", "product")
PAGE = 20
FORM_FIELDS = ("kind", "type", "title", "description", "visibility", "attributes", "lat", "lon", "calendar")


def _scalar(text: str) -> str | float | int | bool:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            value = cast(text.strip())
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return text.strip()


def _time(text: str, where: str) -> str:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{where}: {text.strip()!r} is not a time like 2026-12-01T08:00") from exc
    # the form says its times are UTC
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _json(text: str, where: str, default: Any) -> Any:
    if not text.strip():
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc


def spec_from_form(form: dict[str, str]) -> ThingSpec:
    """A spec from the form: ``attributes`` are ``key=value`` lines, calendar lines ``start / end``."""
    attributes: dict[str, Any] = {}
    for n, line in enumerate(form.get("attributes", "").splitlines(), start=1):
        if line.strip():
            key, sep, value = line.partition("=")
            if not sep:
                raise InvalidInput(f"attributes line {n}: write key=value")
            attributes[key.strip()] = _scalar(value)
    calendar = []
    for n, line in enumerate(form.get("calendar", "").splitlines(), start=1):
        if line.strip():
            start, sep, end = line.partition("/")
            if not sep:
                raise InvalidInput(f"calendar line {n}: write start / end")
            where = f"calendar line {n}"
            calendar.append({"starts_at": _time(start, where), "ends_at": _time(end, where)})
    affordances = _json(form.get("affordances", ""), "affordances", {})
    if not isinstance(affordances, dict):
        raise InvalidInput("affordances: give an object with properties, actions, events")
    data: dict[str, Any] = {
        "kind": form.get("kind", ""),
        "type": form.get("type", ""),
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "visibility": form.get("visibility", "private"),
        "attributes": attributes,
        "calendar": calendar,
        "links": _json(form.get("links", ""), "links", []),
        **{k: affordances.get(k) or {} for k in ("properties", "actions", "events")},
    }
    if form.get("lat", "").strip() or form.get("lon", "").strip():
        try:
            data["location"] = {"lat": float(form.get("lat", "")), "lon": float(form.get("lon", ""))}
        except ValueError as exc:
            raise InvalidInput("location: latitude and longitude must both be numbers") from exc
    return spec_from_dict(data)


def form_of(d: ThingDetail) -> dict[str, str]:
    """The edit form's text for a stored thing."""
    t = d.thing
    return {
        "kind": t.kind,
        "type": t.type,
        "title": t.title,
        "description": t.description,
        "visibility": t.visibility,
        "attributes": "\n".join(
            f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in t.attributes.items()
        ),
        "lat": "" if t.latitude is None else str(t.latitude),
        "lon": "" if t.longitude is None else str(t.longitude),
        "calendar": "\n".join(f"{w.starts_at.isoformat()} / {w.ends_at.isoformat()}" for w in d.windows),
        "affordances": json.dumps(t.affordances, indent=2),
        "links": json.dumps([{"device_id": k.device_id, "mapping": k.mapping} for k in d.links], indent=2),
    }


async def _form_page(
    request: Request,
    principal: Principal,
    form: dict[str, str],
    *,
    thing: VirtualThing | None = None,
    error: InvalidInput | None = None,
) -> Response:
    ctx = context_of(request)
    devices = await ctx.registry.list_devices(principal, limit=1000)
    types = [n for n in ctx.virtual.taxonomy.nodes() if n.depth >= 1]
    return render(
        request,
        "virtual_form.html",
        principal,
        status=422 if error else 200,
        form=form,
        thing=thing,
        kinds=KINDS,
        types=types,
        devices=devices,
        error=error.detail if error else None,
        errors=[str(e) for e in (error.extra.get("errors", []) if error else [])],
    )


async def _read_form(request: Request) -> dict[str, str]:
    raw = await request.form()
    check_csrf(request.session, str(raw.get("csrf_token", "")))
    keys = (*FORM_FIELDS, "affordances", "links", "from_device")
    return {k: str(raw.get(k, ""))[:200_000] for k in keys}


@router.get("/portal/virtual")
async def my_things(request: Request, principal: Session) -> Response:
    """The organisation's virtual things and a form to create one (blank, or from a device)."""
    ctx = context_of(request)
    things = await ctx.virtual.list_own(principal, limit=1000)
    return render(request, "virtual_list.html", principal, things=things)


@router.get("/portal/virtual/new")
async def new_thing(request: Request, principal: Session) -> Response:
    """The form for a new virtual thing."""
    return await _form_page(request, principal, {"kind": "capability", "visibility": "private"})


@router.post("/portal/virtual/new")
async def create_thing(request: Request, principal: Session) -> Response:
    """Create a thing from the form; a chosen device gives its Thing Model and a link to its twin."""
    ctx = context_of(request)
    form = await _read_form(request)
    try:
        spec = spec_from_form(form)
        if form["from_device"]:
            spec = await ctx.virtual.ground_on_device(principal, spec, form["from_device"])
        thing = await ctx.virtual.create(principal, spec)
    except InvalidInput as exc:
        return await _form_page(request, principal, form, error=exc)
    return RedirectResponse(f"/portal/virtual/{thing.id}", status_code=303)


@router.get("/portal/virtual/{thing_id}")
async def thing_page(request: Request, principal: Session, thing_id: str) -> Response:
    """A thing: its live state, TD link, and (for its owner) the edit form."""
    ctx = context_of(request)
    d = await ctx.virtual.detail(principal, thing_id)
    state = await ctx.virtual.state(principal, thing_id)
    return render(
        request,
        "virtual_thing.html",
        principal,
        d=d,
        state=state,
        own=d.thing.org_id == principal.org_id,
        node=ctx.virtual.taxonomy.get(d.thing.type),
        form=form_of(d),
        kinds=KINDS,
        types=[n for n in ctx.virtual.taxonomy.nodes() if n.depth >= 1],
    )


@router.get("/portal/virtual/{thing_id}/td")
async def thing_td(request: Request, principal: Session, thing_id: str) -> Response:
    """The thing's Thing Description for the logged-in browser (the API wants a bearer token)."""
    api_base = str(request.base_url).rstrip("/") + "/api/v1"
    doc = await context_of(request).virtual.td(principal, thing_id, api_base)
    return Response(json.dumps(doc, indent=2), media_type="application/td+json")


@router.get("/portal/virtual/{thing_id}/edit")
async def edit_thing(request: Request, principal: Session, thing_id: str) -> Response:
    """The edit form of an own thing."""
    d = await context_of(request).virtual.detail(principal, thing_id)
    await context_of(request).virtual.get_own(principal, thing_id)
    return await _form_page(request, principal, form_of(d), thing=d.thing)


@router.post("/portal/virtual/{thing_id}/edit")
async def update_thing(request: Request, principal: Session, thing_id: str) -> Response:
    """Save the edit form."""
    ctx = context_of(request)
    form = await _read_form(request)
    thing = await ctx.virtual.get_own(principal, thing_id)
    try:
        await ctx.virtual.update(principal, thing_id, spec_from_form(form))
    except InvalidInput as exc:
        return await _form_page(request, principal, form, thing=thing, error=exc)
    return RedirectResponse(f"/portal/virtual/{thing_id}", status_code=303)


@router.post("/portal/virtual/{thing_id}/delete")
async def delete_thing(
    request: Request, principal: Session, thing_id: str, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Delete an own thing."""
    check_csrf(request.session, csrf_token)
    await context_of(request).virtual.delete(principal, thing_id)
    return RedirectResponse("/portal/virtual", status_code=303)


def _attr_params(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.replace(";", ",").split(","):
        if part.strip():
            key, sep, value = part.partition("=")
            if not sep:
                raise InvalidInput(f"attributes: write key=value or key=lo..hi, not {part.strip()!r}")
            pairs.append((f"attr.{key.strip()}", value.strip()))
    return pairs


@router.get("/portal/pools")
async def pools(request: Request, principal: Session) -> Response:
    """Browse and search the pools (own + public things) with facets and pages."""
    ctx = context_of(request)
    raw = {k: v for k, v in request.query_params.items()}
    kind = raw.get("kind") or "capability"
    if kind not in KINDS:
        raise InvalidInput("kind: resource, capability or product")
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("kind", "attrs")]
    params = [(k, _time(v, k) if k.startswith("available_") and v.strip() else v) for k, v in params]
    params += _attr_params(raw.get("attrs", ""))
    page = await ctx.virtual.search(principal, query_from_params(kind, params))
    keep = [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]

    def link(**change: str) -> str:
        pairs = [(k, v) for k, v in keep if k not in change] + [(k, v) for k, v in change.items() if v]
        return "/portal/pools?" + urlencode(pairs)

    return render(
        request,
        "pools.html",
        principal,
        page=page,
        kind=kind,
        kinds=KINDS,
        raw=raw,
        link=link,
        taxonomy=ctx.virtual.taxonomy,
        types=[n for n in ctx.virtual.taxonomy.nodes() if n.depth >= 1 and n.kind == kind],
    )
