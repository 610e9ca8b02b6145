"""The running platform's context: settings, backends and services, handed to API, portal and CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from iplus import __version__
from iplus.config import Settings
from iplus.infra.db.engine import Database
from iplus.infra.ports import Compute, MessageBroker, Pingable, Readiness, TelemetryStore
from iplus.security.accounts import Accounts


@dataclass
class Context:
    """Everything a request handler or command needs; built only by the bootstrap."""

    settings: Settings
    db: Database
    telemetry: TelemetryStore
    broker: MessageBroker
    compute: Compute
    accounts: Accounts
    secret_key: str
    serving: bool = field(default=False)

    def backends(self) -> list[Pingable]:
        """The backends whose readiness health reports."""
        return [self.db, self.telemetry, self.broker, self.compute]

    async def start(self) -> None:
        """Open the telemetry store and start (or check) the broker."""
        await self.telemetry.open()
        try:
            await self.broker.start()
        except Exception:
            await self.telemetry.close()
            raise
        self.serving = True

    async def stop(self) -> None:
        """Stop everything that ``start`` started and release every backend."""
        if self.serving:
            await self.broker.stop()
            await self.telemetry.close()
            self.serving = False
        await self.compute.close()
        await self.db.close()

    async def health(self) -> dict[str, Any]:
        """Liveness and per-backend readiness, each checked with a real round trip."""
        pingable = self.backends() if self.serving else [self.db, self.compute]
        results: list[Readiness] = await asyncio.gather(*(b.ping() for b in pingable))
        backends = {b.name: r for b, r in zip(pingable, results, strict=True)}
        return {
            "live": True,
            "ready": all(r.ok for r in results),
            "version": __version__,
            "backends": {
                name: {
                    "ok": r.ok,
                    "backend": r.backend,
                    "detail": r.detail,
                    "latency_ms": r.latency_ms,
                }
                for name, r in backends.items()
            },
        }
