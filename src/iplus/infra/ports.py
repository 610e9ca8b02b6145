"""The narrow interfaces every backend adapter implements; the bootstrap picks one per port by URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from iplus.infra.telemetry import BucketRow, Message, Reading, Selection
from iplus.infra.tsdb.duckdb_sql import QueryResult

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
    """Time-series store for device readings; one contract suite covers every adapter."""

    dialect: str

    async def open(self) -> None:
        """Open files or connections and create the schema if missing."""
        ...

    async def close(self) -> None:
        """Release files and connections."""
        ...

    async def append(self, messages: Sequence[Message]) -> list[bool]:
        """Store each message whole and once (by device and message id); per message: was it new."""
        ...

    async def readings(
        self, sel: Selection, *, limit: int = 10_000, newest_first: bool = False
    ) -> list[Reading]:
        """Raw readings in the selection, in time order."""
        ...

    async def latest(self, sel: Selection) -> list[Reading]:
        """Newest reading of each (device, key)."""
        ...

    async def aggregate(
        self, sel: Selection, *, bucket_seconds: float, aggregates: list[str], group: bool = False
    ) -> list[BucketRow]:
        """Aggregates per epoch-aligned time bucket, per device or over the group."""
        ...

    async def export(self, sel: Selection) -> Any:
        """The selection's readings as an Arrow table."""
        ...

    async def query(
        self,
        org_id: str,
        sql: str,
        params: Sequence[Any] = (),
        *,
        limit: int = 10_000,
        time_limit: float = 30.0,
    ) -> QueryResult:
        """A tenant's read-only SQL over a ``readings`` view holding only ``org_id``'s rows."""
        ...

    async def delete_before(self, org_id: str, type_id: str, before: datetime) -> int:
        """Retention: drop a device type's readings older than ``before``."""
        ...

    async def forget_messages(self, before: datetime) -> int:
        """Drop message ids received before ``before``."""
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
