"""Waiting for a simulation run started through the API, shared by the engine's and the domains' tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def finished(client: httpx.AsyncClient, auth: dict[str, str], run_id: str) -> dict[str, Any]:
    """The run's body once it has succeeded or failed (at most a minute)."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = (await client.get(f"/api/v1/simulation/runs/{run_id}", headers=auth)).json()
        if body["status"] in {"succeeded", "failed"}:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)
