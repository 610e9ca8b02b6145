"""A real HTTP server for the platform's batch endpoint, as the contract says, that tests can take down.

POST /api/v1/telemetry with X-API-Key and {"messages": [...]} -> 200 {"stored", "duplicates"},
422 problem+json with errors[] and nothing stored, 401 for a wrong key. De-duplicates by
(device_id, msg_id) and records the order in which messages were stored.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import datetime
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "ipk_test_edge"


class PlatformServer:
    """The batch endpoint on 127.0.0.1, served by uvicorn in a thread; stop() refuses connections."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.seen: set[tuple[str, str]] = set()
        self.stored: list[dict[str, Any]] = []  # in arrival order
        self.duplicates = 0
        self.requests = 0
        self.refused_devices: set[str] = set()
        self.drop_answers = 0  # the next N accepted batches are stored, then the connection is cut unanswered
        self.dropped = 0
        self.port: int | None = None
        self.outages = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    @property
    def count(self) -> int:
        return len(self.stored)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/telemetry", self._telemetry, methods=["POST"])])

    async def _telemetry(self, request: Request) -> Response:
        self.requests += 1
        if request.headers.get("x-api-key") != self.api_key:
            return _problem(401, "Unauthenticated", "unknown API key")
        try:
            doc = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _problem(400, "Bad request", "not JSON")
        messages = doc.get("messages") if isinstance(doc, dict) else None
        if not isinstance(messages, list):
            return _problem(422, "Invalid input", "messages must be a list", errors=[])
        errors = [e for i, m in enumerate(messages) if (e := self._check(i, m))]
        if errors:
            return _problem(422, "Invalid input", f"{len(errors)} message(s) refused", errors=errors)
        stored = dups = 0
        with self.lock:
            for m in messages:
                key = (m["device_id"], m["msg_id"])
                if key in self.seen:
                    dups += 1
                    continue
                self.seen.add(key)
                self.stored.append(m)
                stored += 1
            self.duplicates += dups
            drop = self.drop_answers > 0
            if drop:
                self.drop_answers -= 1
                self.dropped += 1
        if drop:
            assert self._server is not None
            for conn in list(self._server.server_state.connections):
                conn.transport.abort()
            await asyncio.sleep(0.05)  # let uvicorn see the connection gone before it tries to answer
        return JSONResponse({"stored": stored, "duplicates": dups})

    def _check(self, index: int, m: Any) -> dict[str, Any] | None:
        reasons: list[str] = []
        if not isinstance(m, dict):
            return {"index": index, "device_id": None, "reasons": ["not an object"]}
        device = m.get("device_id")
        if not isinstance(device, str) or not device:
            reasons.append("device_id must be a non-empty string")
        elif device in self.refused_devices:
            reasons.append(f"unknown device {device}")
        if not isinstance(m.get("msg_id"), str) or not m["msg_id"]:
            reasons.append("msg_id must be a non-empty string")
        try:
            if datetime.fromisoformat(m["ts"]).tzinfo is None:
                reasons.append("ts has no offset")
        except (KeyError, TypeError, ValueError):
            reasons.append("ts is not ISO 8601")
        values = m.get("values")
        if not isinstance(values, dict) or not values:
            reasons.append("values must be a non-empty object")
        elif not all(isinstance(v, int | float | str | bool) for v in values.values()):
            reasons.append("values must be numbers, strings or booleans")
        return {"index": index, "device_id": device, "reasons": reasons} if reasons else None

    def start(self) -> None:
        """Serve (again) on the same port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_config=None, log_level="warning", lifespan="off", access_log=False
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test platform did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving: new connections are refused until start()."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self.outages += 1

    def msg_ids(self) -> list[str]:
        with self.lock:
            return [m["msg_id"] for m in self.stored]


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
