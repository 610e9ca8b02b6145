"""The narrow interfaces every backend adapter implements; the bootstrap picks one per port by URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Readiness:
    """Whether a backend answers, what it is, and how long the check took."""

    ok: bool
    backend: str
    detail: str
    latency_ms: float


class Pingable(Protocol):
    """Anything whose readiness the health endpoint reports."""

    name: str

    async def ping(self) -> Readiness:
        """Check the backend with a real round trip."""
        ...


class TelemetryStore(Pingable, Protocol):
    """Time-series store for device readings."""

    async def open(self) -> None:
        """Open files or connections and create the schema if missing."""
        ...

    async def close(self) -> None:
        """Release files and connections."""
        ...


class MessageBroker(Pingable, Protocol):
    """The MQTT broker the platform talks to: embedded in the process or external."""

    @property
    def address(self) -> tuple[str, int]:
        """Host and port clients connect to."""
        ...

    def describe(self) -> str:
        """One line for operators: which broker, where."""
        ...

    async def start(self) -> None:
        """Start the embedded broker, or check that the external one answers."""
        ...

    async def stop(self) -> None:
        """Stop the embedded broker; an external one is left alone."""
        ...


class Compute(Pingable, Protocol):
    """Where batch jobs, training and simulation sweeps run."""

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the backend and return its result."""
        ...

    async def close(self) -> None:
        """Shut the workers down."""
        ...
