"""Server-sent events: an organisation's or a device's readings, twin changes and command statuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from iplus.api.deps import ContextDep, Reader
from iplus.platform.live import sse

router = APIRouter(tags=["stream"])


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
    response_class=StreamingResponse,
)
async def stream(
    ctx: ContextDep,
    caller: Reader,
    request: Request,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """Live events: ``reading``, ``desired``, ``command``, ``dead_letter``; one device's when given."""
    if device_id is not None:
        await ctx.registry.get_device(caller, device_id)
    return StreamingResponse(
        sse(ctx.bus, caller.org_id, device_id, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
