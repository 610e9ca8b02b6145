"""What a source of readings is and what it hands readings to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from iplus.access.edge.model import Reading, Rejected
from iplus.core.errors import NotReady


class SinkClosed(NotReady):
    """The agent is stopping and takes no more input; the source should not acknowledge."""


class Sink(Protocol):
    """Where sources put readings: acknowledged input is on disk."""

    async def submit(
        self, readings: Sequence[Reading], rejects: Sequence[Rejected] = ()
    ) -> asyncio.Future[None]:
        """Queue input for the next commit; the future resolves once it is on disk."""
        ...

    async def ingest_many(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are processed and committed to the buffer."""
        ...


class Source(Protocol):
    """A local input that runs until cancelled (or until it has nothing more to give)."""

    name: str

    async def run(self, sink: Sink) -> None:
        """Read input and hand it to ``sink``; acknowledge input only after the sink committed it."""
        ...
