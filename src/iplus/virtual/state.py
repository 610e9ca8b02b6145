"""Live state of virtual things, read from the twins of the devices that ground them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Selection


@dataclass(frozen=True)
class Reported:
    """A twin's reported value of one property and when it was measured."""

    value: Any
    ts: datetime


class TwinSource(Protocol):
    """Where reported twin state comes from (the bootstrap hands one in)."""

    async def reported(self, org_id: str, device_ids: Sequence[str]) -> dict[str, dict[str, Reported]]:
        """{device id: {twin property: newest reported value}} of the organisation's devices."""
        ...


class TelemetryTwinSource:
    """Reported twin state as the telemetry store keeps it (its ``latest`` table)."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store

    async def reported(self, org_id: str, device_ids: Sequence[str]) -> dict[str, dict[str, Reported]]:
        """The newest reading of every property of these devices."""
        out: dict[str, dict[str, Reported]] = {d: {} for d in device_ids}
        if not device_ids:
            return out
        for r in await self.store.latest(Selection(org_id, list(device_ids))):
            out.setdefault(r.device_id, {})[r.key] = Reported(r.value, r.ts)
        return out


def live_state(
    thing_id: str, links: Sequence[tuple[str, dict[str, str]]], reported: dict[str, dict[str, Reported]]
) -> dict[str, Any]:
    """The thing's properties mapped from its links' twins; a property never reported is absent."""
    props: dict[str, Any] = {}
    devices = []
    for device_id, mapping in links:
        twin = reported.get(device_id, {})
        for vprop, tprop in mapping.items():
            hit = twin.get(tprop)
            if hit is not None:
                props[vprop] = {
                    "value": hit.value,
                    "ts": hit.ts.isoformat(),
                    "device_id": device_id,
                    "source": tprop,
                }
        seen = max((r.ts for r in twin.values()), default=None)
        devices.append({"device_id": device_id, "last_seen": seen.isoformat() if seen else None})
    return {"thing_id": thing_id, "properties": props, "links": devices}
