"""Fixtures of the edge agent tests: a real platform endpoint, configurations, an in-memory uplink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from iplus.access.edge import EdgeConfig, OutboxMessage, parse_config
from tests.edge.platform_server import API_KEY, PlatformServer


@pytest.fixture
def platform() -> Iterator[PlatformServer]:
    """The platform's batch endpoint, started; the test may stop and start it."""
    server = PlatformServer()
    server.start()
    yield server
    server.stop()


def make_config(tmp_path: Path, base_url: str, **sections: Any) -> EdgeConfig:
    """A configuration with fast back-off; ``sections`` replace or add top-level sections."""
    doc: dict[str, Any] = {
        "gateway": {"id": "gw-test"},
        "platform": {"base_url": base_url, "api_key": API_KEY, "timeout_s": 5},
        "buffer": {"path": "buffer.db"},
        "forward": {"batch_size": 500, "backoff_initial_s": 0.05, "backoff_max_s": 0.3},
    }
    doc.update(sections)
    return parse_config(doc, tmp_path)


class MemoryUplink:
    """An uplink that keeps what it is sent, for tests of the sources."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    async def send(self, messages: Sequence[OutboxMessage]) -> None:
        self.messages.extend(messages)


async def eventually(condition: Callable[[], bool], seconds: float = 10, every: float = 0.005) -> None:
    """Wait until ``condition()`` holds (state that another thread or process moves), or fail."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the state is moved by other threads, not by an event
            await asyncio.sleep(every)
