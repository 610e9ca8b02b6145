"""Live events as server-sent events, shared by the API and the portal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from iplus.infra.bus import EventBus

HEARTBEAT_SECONDS = 15.0
MAX_CHUNK = 500


async def sse(
    bus: EventBus, org_id: str, device_id: str | None, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    """Encode bus events as ``text/event-stream``, with a comment line as heartbeat."""
    sub = bus.subscribe(org_id, device_id)
    try:
        yield b": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                # the only place that asks: checking the connection per event costs more than the event
                if await disconnected():
                    return
                yield b": heartbeat\n\n"
                continue
            chunk = [_encode(event)]
            # whatever else is already waiting goes out in the same write
            while not sub.queue.empty() and len(chunk) < MAX_CHUNK:
                chunk.append(_encode(sub.queue.get_nowait()))
            yield b"".join(chunk)
    finally:
        bus.unsubscribe(sub)


def _encode(event: dict[str, object]) -> bytes:
    kind = str(event.get("type", "message")).encode()
    return b"event: " + kind + b"\ndata: " + orjson.dumps(event) + b"\n\n"
