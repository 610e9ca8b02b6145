"""Shared pieces of the catalog tests: offer bodies, principals and organisations in a store."""

from __future__ import annotations

from typing import Any

from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation
from iplus.platform.catalog.spec import OfferSpec
from iplus.security.principal import Principal

ALL_SCOPES = frozenset({Scope.READ, Scope.WRITE})


def qos(
    price: float = 100, time: float = 4, rel: float = 0.95, avail: float = 0.98, cap: float = 2
) -> dict[str, Any]:
    return {
        "price": {"value": price, "unit": "EUR"},
        "time": {"value": time, "unit": "h"},
        "reliability": {"value": rel, "unit": "1"},
        "availability": {"value": avail, "unit": "1"},
        "capacity": {"value": cap, "unit": "orders"},
    }


MILLING_INPUTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "material": {"type": "string"},
        "length": {"type": "number", "unit": "mm", "exclusiveMinimum": 0},
        "quantity": {"type": "integer", "unit": "1", "minimum": 1},
    },
    "required": ["material", "quantity"],
}


def spec(title: str = "5-axis milling", type_: str = "milling", **kw: Any) -> OfferSpec:
    base: dict[str, Any] = {
        "title": title,
        "capability_type": type_,
        "qos": qos(),
        "inputs": MILLING_INPUTS,
        "outputs": {"type": "object", "properties": {"parts": {"type": "integer", "unit": "1"}}},
        "sla": {
            "targets": {"time": {"max": 6, "unit": "h"}},
            "penalties": [{"breach": "time", "amount": 10, "unit": "%"}],
        },
    }
    base.update(kw)
    return OfferSpec(**base)


async def org(db: Database, name: str, *roles: Role) -> Principal:
    async with db.transaction() as s:
        o = Organisation(name=name, roles=[r.value for r in roles])
        s.add(o)
        await s.flush()
        org_id = o.id
    return Principal(org_id=org_id, roles=frozenset(roles), scopes=ALL_SCOPES)
