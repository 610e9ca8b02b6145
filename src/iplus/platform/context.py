"""The running platform's context: settings, backends and services, handed to API, portal and CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from iplus import __version__
from iplus.access.commands import Commands
from iplus.access.deadletters import DeadLetters
from iplus.access.ingest import Ingestor
from iplus.access.mqtt import MqttChannel
from iplus.access.registry import Registry
from iplus.access.twin import Twins
from iplus.config import Settings
from iplus.core.clock import utcnow
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import DeviceType
from iplus.infra.ports import Compute, MessageBroker, Pingable, Readiness, TelemetryStore
from iplus.platform.analytics import Analytics
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import Orders
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from iplus.platform.knowledge.documents import Knowledge
from iplus.platform.models import ModelRegistry
from iplus.platform.rules import RuleService
from iplus.platform.simulation import Simulations
from iplus.platform.systems.service import Systems
from iplus.platform.training import Trainer
from iplus.security.accounts import Accounts
from iplus.virtual.things import VirtualThings

log = logging.getLogger(__name__)
MESSAGE_ID_MEMORY = timedelta(days=7)


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
    bus: EventBus
    registry: Registry
    ingestor: Ingestor
    dead_letters: DeadLetters
    commands: Commands
    twins: Twins
    mqtt: MqttChannel
    analytics: Analytics
    algorithms: AlgorithmRegistry
    knowledge: Knowledge
    rules: RuleService
    models: ModelRegistry
    trainer: Trainer
    simulations: Simulations
    virtual: VirtualThings
    offers: Offers
    orders: Orders
    systems: Systems
    serving: bool = field(default=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def backends(self) -> list[Pingable]:
        """The backends whose readiness health reports."""
        return [self.db, self.telemetry, self.broker, self.compute]

    async def start(self) -> None:
        """Open the telemetry store, start (or check) the broker, subscribe, start housekeeping."""
        await self.telemetry.open()
        try:
            await self.broker.start()
            await self.mqtt.start()
        except Exception:
            await self.broker.stop()
            await self.telemetry.close()
            raise
        self.serving = True
        await self.models.refresh_online()
        await self.rules.start(self.ingestor.listeners)
        await self.orders.start(self.ingestor.listeners)
        await self.systems.start()
        self._tasks = [
            asyncio.create_task(self._every(1.0, self.commands.expire), name="iplus-command-timeouts"),
            asyncio.create_task(self._every(3600.0, self.apply_retention), name="iplus-retention"),
            # the first round runs at start: a schedule missed while down runs once now
            asyncio.create_task(self._every(30.0, self.analytics.run_due), name="iplus-analytics-jobs"),
        ]

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            try:
                await job()
            except Exception:  # housekeeping must outlive one failed round
                log.exception("housekeeping job %s failed", getattr(job, "__name__", job))
            await asyncio.sleep(seconds)

    async def apply_retention(self) -> int:
        """Drop readings older than each device type's retention, and old message ids."""
        from sqlalchemy import select

        async with self.db.transaction() as s:
            types = list(
                (await s.scalars(select(DeviceType).where(DeviceType.retention_days.is_not(None)))).all()
            )
        dropped = 0
        now = utcnow()
        for kind in types:
            assert kind.retention_days is not None
            dropped += await self.telemetry.delete_before(
                kind.org_id, kind.id, now - timedelta(days=kind.retention_days)
            )
        await self.telemetry.forget_messages(now - MESSAGE_ID_MEMORY)
        return dropped

    async def stop(self) -> None:
        """Stop everything that ``start`` started and release every backend."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.simulations.stop()
        if self.serving:
            await self.systems.stop()
            await self.orders.stop()
            await self.rules.stop()
            await self.mqtt.stop()
            await self.ingestor.stop()
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
                name: {"ok": r.ok, "backend": r.backend, "detail": r.detail, "latency_ms": r.latency_ms}
                for name, r in backends.items()
            },
        }
