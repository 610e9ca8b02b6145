"""The environment domain's API: the monitoring network, a station's hourly series, pollution sources."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.apps.environment.dashboard import network_view, station_series
from iplus.apps.environment.sources import NewSource, add_source, check_permit, set_permit

router = APIRouter(prefix="/environment", tags=["environment"])


class PermitIn(BaseModel):
    """A stack's permit: hourly-mean limits (mg/m³ at the reference O2) and the alarm's hold time."""

    model_config = ConfigDict(extra="forbid")
    so2_limit: float
    nox_limit: float
    dust_limit: float
    limit_hold_s: float = 60.0


class SourceIn(BaseModel):
    """A pollution source to register: its stack's CEMS as a device, with place and permit."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    id: str | None = Field(default=None, max_length=64)
    permit: PermitIn


@router.get("/network")
async def get_network(ctx: ContextDep, caller: Reader) -> dict[str, Any]:
    """The organisation's monitoring network now: air stations with AQI, water classes, stacks, alarms."""
    return await network_view(ctx, caller)


@router.get("/stations/{device_id}/series")
async def get_series(ctx: ContextDep, caller: Reader, device_id: ObjectId) -> dict[str, Any]:
    """Hourly PM2.5 means and hourly AQI of one air station over the last 7 days (epoch seconds)."""
    return await station_series(ctx, caller, device_id)


@router.post("/sources", status_code=status.HTTP_201_CREATED)
async def post_source(ctx: ContextDep, caller: Writer, body: SourceIn) -> dict[str, Any]:
    """Register a pollution source with its permit; the device token is in this answer only."""
    permit = check_permit(body.permit.model_dump())
    device, token, rules = await add_source(
        ctx,
        caller,
        NewSource(
            name=body.name, latitude=body.latitude, longitude=body.longitude, permit=permit, id=body.id
        ),
    )
    return {"device_id": device.id, "name": device.name, "token": token, "rules": rules}


@router.put("/sources/{device_id}/permit")
async def put_permit(
    ctx: ContextDep, caller: Writer, device_id: ObjectId, body: PermitIn = Body()
) -> dict[str, Any]:
    """Change a stack's permit; its exceedance rules are rewritten at once."""
    permit = check_permit(body.model_dump())
    device = await ctx.registry.get_device(caller, device_id)
    rules = await set_permit(ctx, caller, device, permit)
    return {"device_id": device.id, "permit": permit.as_attributes(), "rules": rules}
