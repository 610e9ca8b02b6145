"""The local HTTP input: POST /telemetry/{device_id} on a loopback port, answered after the commit."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iplus.access.edge.config import HttpSourceConfig
from iplus.access.edge.model import decode_flat
from iplus.access.edge.sources import Sink, SinkClosed
from iplus.core.errors import InvalidInput


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # Ctrl+C belongs to the agent, which stops this server in its own order


def _problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class HttpSource:
    """A small HTTP server taking one flat JSON reading, or a list of them, per POST.

    202 means the readings are on disk; 422 says why a payload was refused; 503 means the agent
    is stopping and the client should send again later.
    """

    name = "http"

    def __init__(self, config: HttpSourceConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.port: int | None = None
        self.ready = asyncio.Event()

    def app(self, sink: Sink) -> Starlette:
        """The ASGI application that feeds ``sink``."""

        async def telemetry(request: Request) -> Response:
            body = await self._body(request)
            if body is None:
                return _problem(413, "Payload too large", f"at most {self.config.max_body_bytes} bytes")
            try:
                readings = decode_flat(request.path_params["device_id"], body, self.clock())
            except InvalidInput as exc:
                return _problem(422, "Invalid input", exc.detail)
            try:
                await sink.ingest_many(readings)
            except SinkClosed:
                return _problem(503, "Service not ready", "the edge agent is stopping; send again later")
            return JSONResponse({"accepted": len(readings)}, status_code=202)

        return Starlette(routes=[Route("/telemetry/{device_id}", telemetry, methods=["POST"])])

    async def run(self, sink: Sink) -> None:
        """Serve until cancelled; the socket is bound here so a taken port is a plain OSError."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"HTTP input cannot listen on {self.config.host}:{self.config.port}: {exc}"
            ) from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(sink), log_config=None, log_level="warning", lifespan="off", access_log=False
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no started event
                await asyncio.sleep(0.01)
            self.ready.set()
            await asyncio.shield(serving)
        finally:
            self.ready.clear()
            server.should_exit = True  # graceful: requests in flight get their answer
            await asyncio.wait({serving}, timeout=5)
            sock.close()

    async def _body(self, request: Request) -> bytes | None:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
