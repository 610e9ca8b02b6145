"""Alarms raised by stream rules: list with filters, acknowledge, clear."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.engines.stream.alarms import AlarmFilter

router = APIRouter(tags=["alarms"])


@router.get("/alarms")
async def list_alarms(
    ctx: ContextDep,
    caller: Reader,
    status: Annotated[str | None, Query(pattern="^(active|raised|acknowledged|cleared)$")] = None,
    severity: Annotated[str | None, Query(pattern="^(critical|major|minor|warning|indeterminate)$")] = None,
    device: Annotated[str | None, Query(max_length=200, description="device id or group:<rule>")] = None,
    rule: Annotated[str | None, Query(max_length=100, description="rule id or name")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """A page of alarms, newest first; ``status=active`` means raised or acknowledged."""
    items, total = await ctx.rules.alarms(
        caller, AlarmFilter(status, severity, device, rule), offset=offset, limit=limit
    )
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/alarms/{alarm_id}")
async def get_alarm(ctx: ContextDep, caller: Reader, alarm_id: ObjectId) -> dict[str, Any]:
    """One alarm."""
    return await ctx.rules.alarm(caller, alarm_id)


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge_alarm(ctx: ContextDep, caller: Writer, alarm_id: ObjectId) -> dict[str, Any]:
    """Acknowledge an alarm (409 when it is already cleared)."""
    return await ctx.rules.acknowledge(caller, alarm_id)


@router.post("/alarms/{alarm_id}/clear")
async def clear_alarm(ctx: ContextDep, caller: Writer, alarm_id: ObjectId) -> dict[str, Any]:
    """Clear an alarm (409 when it is already cleared); the rule may raise a new one later."""
    return await ctx.rules.clear(caller, alarm_id)
