"""Live events as server-sent events, shared by the API and the portal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from iplus.infra.bus import EventBus

HEARTBEAT_SECONDS = 15.0


async def sse(
    bus: EventBus, org_id: str, device_id: str | None, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    """Encode bus events as ``text/event-stream``, with a comment line as heartbeat."""
    sub = bus.subscribe(org_id, device_id)
    try:
        yield b": connected\n\n"
        while not await disconnected():
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            kind = str(event.get("type", "message")).encode()
            yield b"event: " + kind + b"\ndata: " + orjson.dumps(event) + b"\n\n"
    finally:
        bus.unsubscribe(sub)
