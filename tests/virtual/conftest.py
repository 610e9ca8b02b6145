"""Fixtures of the virtual layer: two organisations on a migrated store, and a service on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iplus.access.registry import DeviceSpec, Registry
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.security.principal import Principal
from iplus.virtual.spec import ThingSpec
from iplus.virtual.state import TelemetryTwinSource
from iplus.virtual.things import VirtualThings

METER_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Spindle meter",
    "description": "Power and speed of a machine spindle",
    "properties": {
        "power": {"type": "number", "unit": "kW", "minimum": 0, "readOnly": True},
        "rpm": {"type": "number", "unit": "1/min", "minimum": 0},
        "busy": {"type": "boolean"},
    },
    "actions": {"stop": {}},
    "events": {"fault": {"data": {"type": "string"}}},
}


def principal(org_id: str) -> Principal:
    """A provider of ``org_id`` allowed to read and write."""
    return Principal(
        org_id=org_id,
        roles=frozenset({Role.PROVIDER, Role.USER}),
        scopes=frozenset({Scope.READ, Scope.WRITE}),
    )


def spec(kind: str = "capability", type: str = "milling", title: str = "Thing", **kw: Any) -> ThingSpec:
    """A spec with defaults."""
    return ThingSpec(kind=kind, type=type, title=title, **kw)


@dataclass
class World:
    """The service and two organisations with one device each."""

    things: VirtualThings
    a: Principal
    b: Principal


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> World:
    async with database.transaction() as s:
        orgs = [Organisation(name=f"Org {n}", roles=["provider", "user"]) for n in "AB"]
        s.add_all(orgs)
    a, b = principal(orgs[0].id), principal(orgs[1].id)
    registry = Registry(database)
    for p, device in ((a, "mill-a"), (b, "mill-b")):
        await registry.create_type(p, "meter", METER_MODEL)
        await registry.create_devices(p, [DeviceSpec("meter", id=device, latitude=48.1, longitude=11.5)])
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'tel.duckdb'}")
    return World(VirtualThings(database, TelemetryTwinSource(store)), a, b)
