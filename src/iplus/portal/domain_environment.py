"""The environment domain's portal: the monitoring-network dashboard, a station's chart, pollution sources."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from iplus.apps.environment.dashboard import network_view, station_series
from iplus.apps.environment.sources import NewSource, add_source, check_permit, set_permit
from iplus.core.errors import InvalidInput
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
PAGE = "/portal/environment"
Number = Annotated[str, Form(max_length=40)]


@router.get(PAGE)
async def dashboard(request: Request, principal: Session) -> Response:
    """The monitoring network: stations with AQI and water class, stacks against their permits, alarms."""
    view = await network_view(context_of(request), principal)
    return render(request, "domain_environment.html", principal, view=view)


@router.get(f"{PAGE}/panel")
async def panel(request: Request, principal: Session) -> Response:
    """The dashboard's live part as an HTML fragment: the page swaps it in when readings or alarms arrive."""
    view = await network_view(context_of(request), principal)
    return render(request, "domain_environment_panel.html", principal, view=view)


@router.get(f"{PAGE}/series")
async def series(
    request: Request, principal: Session, device: Annotated[str, Query(min_length=1, max_length=64)]
) -> Response:
    """Hourly PM2.5 and AQI of one air station over the last week (JSON, for the chart)."""
    body = await station_series(context_of(request), principal, device)
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})


def _float(name: str, raw: str, problems: list[str]) -> float:
    try:
        return float(raw)
    except ValueError:
        problems.append(f"/{name}: {raw!r} is not a number")
        return 0.0


@router.post(f"{PAGE}/sources")
async def new_source(
    request: Request,
    principal: Session,
    name: Annotated[str, Form(max_length=200)],
    latitude: Number,
    longitude: Number,
    so2_limit: Number,
    nox_limit: Number,
    dust_limit: Number,
    limit_hold_s: Number = "60",
    device_id: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Register a pollution source (its stack's CEMS) with its permit; shows the device token once."""
    check_csrf(request.session, csrf_token)
    problems: list[str] = []
    lat, lon = _float("latitude", latitude, problems), _float("longitude", longitude, problems)
    try:
        permit = check_permit(
            {
                "so2_limit": so2_limit,
                "nox_limit": nox_limit,
                "dust_limit": dust_limit,
                "limit_hold_s": limit_hold_s,
            }
        )
    except InvalidInput as exc:
        problems += exc.extra.get("errors", [])
    if problems:
        raise InvalidInput(
            "the pollution source cannot be registered: " + "; ".join(problems), errors=problems
        )
    device, token, rules = await add_source(
        context_of(request),
        principal,
        NewSource(name=name, latitude=lat, longitude=lon, permit=permit, id=device_id.strip() or None),
    )
    return render(
        request, "domain_environment_source.html", principal, device=device, token=token, rules=rules
    )


@router.post(f"{PAGE}/sources/{{device_id}}/permit")
async def change_permit(
    request: Request,
    principal: Session,
    device_id: str,
    so2_limit: Number,
    nox_limit: Number,
    dust_limit: Number,
    limit_hold_s: Number = "60",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Change a stack's permit; its exceedance rules follow at once."""
    check_csrf(request.session, csrf_token)
    ctx = context_of(request)
    try:
        permit = check_permit(
            {
                "so2_limit": so2_limit,
                "nox_limit": nox_limit,
                "dust_limit": dust_limit,
                "limit_hold_s": limit_hold_s,
            }
        )
    except InvalidInput as exc:
        problems = list(exc.extra.get("errors", []))
        raise InvalidInput(f"{exc.detail}: " + "; ".join(problems), errors=problems) from exc
    device = await ctx.registry.get_device(principal, device_id)
    await set_permit(ctx, principal, device, permit)
    return RedirectResponse(f"{PAGE}#emitters", status_code=303)
