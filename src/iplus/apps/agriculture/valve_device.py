"""A simulated irrigation valve on the wire: it logs in to the broker as its device, takes its commands and
answers each one, as a real valve's controller would.

The answer goes back on ``iplus/v1/devices/{id}/commands/ack``; the platform's MQTT channel applies it to
the command, so a decision that opened the valve shows ``acknowledged`` once the valve took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

log = logging.getLogger(__name__)
Handle = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def answer_for(command: Any, outcome: dict[str, Any] | Exception) -> dict[str, Any]:
    """The acknowledgement of a command: acknowledged with an output, or failed with the reason."""
    command_id = command.get("id") if isinstance(command, dict) else None
    if isinstance(outcome, Exception):
        return {"id": command_id, "status": "failed", "detail": str(outcome)}
    return {"id": command_id, "status": "acknowledged", "output": outcome}


async def serve_valve(
    address: Callable[[], tuple[str, int]],
    device_id: str,
    token: str,
    handle: Handle,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Take the device's commands until ``stop`` is set, reconnecting when the connection drops."""
    import aiomqtt

    topic = f"iplus/v1/devices/{device_id}/commands"
    delay = 0.5
    while not stop.is_set():
        host, port = address()
        try:
            async with aiomqtt.Client(
                host, port, username=device_id, password=token, identifier=f"{device_id}-controller"
            ) as client:
                await client.subscribe(topic, qos=1)
                delay = 0.5
                if ready is not None:
                    ready.set()
                await _answer_until(client, topic, handle, stop)
        except aiomqtt.MqttError as exc:
            log.warning("valve %s lost the broker (%s); reconnecting in %.1fs", device_id, exc, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 10.0)


async def _answer_until(client: Any, topic: str, handle: Handle, stop: asyncio.Event) -> None:
    messages = aiter(client.messages)
    stopping = asyncio.ensure_future(stop.wait())
    receiving: asyncio.Future[Any] | None = None
    try:
        while not stop.is_set():
            receiving = asyncio.ensure_future(anext(messages))
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await receiving
                return
            message = receiving.result()
            command: Any = None
            outcome: dict[str, Any] | Exception
            try:
                command = orjson.loads(message.payload)
                outcome = await handle(command)
            except Exception as exc:  # a command the valve cannot carry out is answered as failed
                outcome = exc
            await client.publish(f"{topic}/ack", orjson.dumps(answer_for(command, outcome)), qos=1)
    finally:
        stopping.cancel()
        if receiving is not None and not receiving.done():
            # cancelled from outside (the platform stopping): the pending read fails once the client
            # disconnects; retrieve that outcome so it is not reported as an unhandled error
            receiving.cancel()
            receiving.add_done_callback(lambda f: f.cancelled() or f.exception())
