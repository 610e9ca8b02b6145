"""Server-sent events: an organisation's or a device's readings, twin changes and command statuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from iplus.api.deps import ContextDep, Reader
from iplus.infra.bus import EventBus

router = APIRouter(tags=["stream"])
HEARTBEAT_SECONDS = 15.0


async def sse(bus: EventBus, org_id: str, device_id: str | None, request: Request) -> AsyncIterator[bytes]:
    """Encode bus events as ``text/event-stream``, with a comment line as heartbeat."""
    sub = bus.subscribe(org_id, device_id)
    try:
        yield b": connected\n\n"
        while not await request.is_disconnected():
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            yield (
                b"event: "
                + str(event.get("type", "message")).encode()
                + b"\ndata: "
                + orjson.dumps(event)
                + b"\n\n"
            )
    finally:
        bus.unsubscribe(sub)


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
        sse(ctx.bus, caller.org_id, device_id, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
