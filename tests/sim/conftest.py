"""Helpers for the simulator tests: a recording transport, and a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iplus.access.sim import Device, Message
from iplus.access.sim.transports import Outcome


@dataclass
class Recorder:
    """A transport that keeps every message with the monotonic time it was handed over."""

    name: str = "recorder"
    max_batch: int = 1
    messages: list[Message] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    opened: list[Device] = field(default_factory=list)
    closed: bool = False

    async def open(self, devices: Sequence[Device]) -> None:
        self.opened = list(devices)

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        now = time.monotonic()
        self.messages.extend(messages)
        self.times.extend([now] * len(messages))
        return [None] * len(messages)

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@dataclass
class Seen:
    """One request the loopback server received."""

    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Awaitable[Response]]


@pytest.fixture
async def http_server() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, list[Seen]]]]]:
    """Start a Starlette app on 127.0.0.1 (a free port) that records requests and answers with ``handler``."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(handler: Handler) -> tuple[str, list[Seen]]:
        seen: list[Seen] = []

        async def endpoint(request: Request) -> Response:
            record = Seen(
                request.url.path, {k.lower(): v for k, v in request.headers.items()}, await request.body()
            )
            seen.append(record)
            return await handler(record)

        app = Starlette(
            routes=[
                Route("/api/v1/devices/{device_id}/telemetry", endpoint, methods=["POST"]),
                Route("/api/v1/telemetry", endpoint, methods=["POST"]),
            ]
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        servers.append((server, task))
        return f"http://127.0.0.1:{port}", seen

    yield start
    for server, task in servers:
        server.should_exit = True
        await task
