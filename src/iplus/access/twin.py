"""Device twin: reported state (latest readings), desired values, and the delta between them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from iplus.access.codec import check_value
from iplus.access.registry import Registry
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.core.roles import Scope
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import DesiredProperty
from iplus.infra.db.repos import DesiredRepository
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Selection
from iplus.security.principal import Principal

Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


class Twins:
    """Reads and changes device twins."""

    def __init__(
        self,
        db: Database,
        store: TelemetryStore,
        registry: Registry,
        bus: EventBus,
        notify: Notify | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.registry = registry
        self.bus = bus
        self.notify = notify

    async def state(self, caller: Principal, device_id: str) -> dict[str, Any]:
        """``reported`` {key: {value, ts}}, ``desired`` {key: value} and ``delta`` {key: desired}."""
        device = await self.registry.get_device(caller, device_id)
        latest = await self.store.latest(Selection(caller.org_id, [device.id]))
        reported = {r.key: {"value": r.value, "ts": r.ts.isoformat()} for r in latest}
        async with self.db.transaction() as s:
            desired = {
                d.name: d.value for d in await DesiredRepository(s, caller.org_id).of_device(device.id)
            }
        delta = {k: v for k, v in desired.items() if k not in reported or reported[k]["value"] != v}
        return {"device_id": device.id, "reported": reported, "desired": desired, "delta": delta}

    async def set_desired(self, caller: Principal, device_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Set desired values (validated against the thing model); ``null`` removes one."""
        caller.require_scope(Scope.WRITE)
        device = await self.registry.get_device(caller, device_id)
        identity = await self.registry.owned(caller.org_id, device.id)
        if not values:
            raise InvalidInput("give at least one property: value")
        problems: list[str] = []
        clean: dict[str, Any] = {}
        for key, raw in values.items():
            if raw is None:
                clean[key] = None
                continue
            value, why = check_value(identity.properties.get(key), key, raw)
            if why:
                problems.append(why)
            else:
                clean[key] = raw if isinstance(raw, bool | str) else value
        if problems:
            raise InvalidInput("the desired values are not valid", errors=problems)
        async with self.db.transaction() as s:
            repo = DesiredRepository(s, caller.org_id)
            current = {d.name: d for d in await repo.of_device(device.id)}
            for key, value in clean.items():
                row = current.get(key)
                if value is None:
                    if row is not None:
                        await s.delete(row)
                elif row is None:
                    await repo.add(DesiredProperty(device_id=device.id, name=key, value=value))
                else:
                    row.value, row.updated_at = value, utcnow()
        self.bus.publish(caller.org_id, {"type": "desired", "device_id": device.id, "values": clean})
        if self.notify is not None:
            await self.notify(device.id, clean)
        return await self.state(caller, device.id)
