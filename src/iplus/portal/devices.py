"""Portal pages for devices: the list with online state, a device's live page, dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Selection
from iplus.platform.live import sse
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.standards.wot import parse_thing_model

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
ONLINE_WITHIN = timedelta(minutes=5)
SERIES_POINTS = 500


@router.get("/portal/devices")
async def device_list(
    request: Request,
    principal: Session,
    type: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(pattern="^(online|offline)?$")] = None,
) -> Response:
    """Devices with online/offline state and last seen time, filtered by type, tag, text, state."""
    ctx = context_of(request)
    types = {t.id: t for t in await ctx.registry.list_types(principal)}
    devices = await ctx.registry.list_devices(
        principal, type_id=type or None, tag=tag or None, text=q or None, limit=1000
    )
    last_seen: dict[str, Any] = {}
    if devices:
        for r in await ctx.telemetry.latest(Selection(principal.org_id, [d.id for d in devices])):
            if r.device_id not in last_seen or r.ts > last_seen[r.device_id]:
                last_seen[r.device_id] = r.ts
    now = utcnow()
    rows = []
    for d in devices:
        seen = last_seen.get(d.id)
        online = seen is not None and now - seen <= ONLINE_WITHIN
        if state and (state == "online") != online:
            continue
        rows.append({"device": d, "type": types.get(d.type_id), "seen": seen, "online": online})
    return render(
        request,
        "devices.html",
        principal,
        rows=rows,
        types=list(types.values()),
        filters={"type": type or "", "tag": tag or "", "q": q or "", "state": state or ""},
    )


@router.get("/portal/devices/{device_id}")
async def device_page(request: Request, principal: Session, device_id: str) -> Response:
    """A device: live charts of its properties, twin state, commands and dead letters."""
    ctx = context_of(request)
    device = await ctx.registry.get_device(principal, device_id)
    kind = await ctx.registry.get_type(principal, device.type_id)
    model = parse_thing_model(kind.thing_model)
    state = await ctx.twins.state(principal, device.id)
    commands = await ctx.commands.of_device(principal, device.id, limit=20)
    letters = await ctx.dead_letters.list(principal, device_id=device.id, limit=20)
    return render(
        request,
        "device.html",
        principal,
        device=device,
        kind=kind,
        model=model,
        state=state,
        commands=commands,
        letters=letters,
    )


@router.get("/portal/devices/{device_id}/series")
async def device_series(request: Request, principal: Session, device_id: str) -> Response:
    """The newest readings of each numeric property, for the charts (JSON)."""
    ctx = context_of(request)
    device = await ctx.registry.get_device(principal, device_id)
    identity = await ctx.registry.owned(principal.org_id, device.id)
    numeric = [k for k, p in identity.properties.items() if p.type in ("number", "integer")]
    series: dict[str, list[list[float]]] = {}
    for key in numeric:
        rows = await ctx.telemetry.readings(
            Selection(principal.org_id, [device.id], [key]), limit=SERIES_POINTS, newest_first=True
        )
        series[key] = [
            [r.ts.timestamp(), float(r.value)] for r in reversed(rows) if isinstance(r.value, float)
        ]
    units = {k: identity.properties[k].unit for k in numeric}
    return Response(
        orjson.dumps({"series": series, "units": units}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/portal/devices/{device_id}/snapshot")
async def device_snapshot(request: Request, principal: Session, device_id: str) -> Response:
    """Twin and command statuses now: the page reads this once its live stream is open, so an
    event that happened while the page was loading is not missed (JSON)."""
    ctx = context_of(request)
    state = await ctx.twins.state(principal, device_id)
    commands = [
        {
            "id": c.id,
            "action": c.action,
            "status": c.status,
            "detail": c.detail,
            "updated_at": c.updated_at.isoformat(),
        }
        for c in await ctx.commands.of_device(principal, device_id, limit=20)
    ]
    return Response(
        orjson.dumps({"reported": state["reported"], "commands": commands}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/portal/stream")
async def portal_stream(
    request: Request, principal: Session, device_id: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """Live events for the logged-in organisation (server-sent events, session cookie)."""
    ctx = context_of(request)
    if device_id is not None:
        await ctx.registry.get_device(principal, device_id)
    return StreamingResponse(
        sse(ctx.bus, principal.org_id, device_id, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/portal/devices/{device_id}/commands")
async def send_command(
    request: Request,
    principal: Session,
    device_id: str,
    action: Annotated[str, Form(max_length=200)],
    input: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Send a command from the device page; the page follows its status live."""
    check_csrf(request.session, csrf_token)
    try:
        payload = orjson.loads(input) if input.strip() else None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the command input is not JSON: {exc}") from exc
    await context_of(request).commands.send(principal, device_id, action, payload)
    return RedirectResponse(f"/portal/devices/{device_id}#commands", status_code=303)


@router.get("/portal/dead-letters")
async def dead_letters(request: Request, principal: Session) -> Response:
    """Messages that could not be stored, with their reasons."""
    letters = await context_of(request).dead_letters.list(principal, limit=200)
    return render(request, "dead_letters.html", principal, letters=letters)
