"""Shared pieces of the run, service and API tests: a catalog with providers, offers and a user."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iplus.core.roles import Role
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import Orders
from iplus.platform.catalog.spec import OfferSpec, Window
from iplus.platform.systems.service import Systems
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import load_taxonomy
from tests.catalog.helpers import org, qos

NO_INPUTS: dict[str, Any] = {"type": "object", "properties": {}}


def offer(
    title: str,
    type_: str = "milling",
    *,
    price: float = 100,
    time: float = 2,
    rel: float = 0.95,
    avail: float = 0.98,
    cap: float = 2,
    calendar: tuple[Window, ...] = (),
) -> OfferSpec:
    """An offer with no required inputs, so a run can order it without parameter values."""
    return OfferSpec(
        title=title,
        capability_type=type_,
        qos=qos(price=price, time=time, rel=rel, avail=avail, cap=cap),
        inputs=NO_INPUTS,
        calendar=calendar,
    )


async def publish(offers: Offers, provider: Principal, spec: OfferSpec) -> str:
    """Create and publish an offer; its id."""
    offer_id = (await offers.create(provider, spec)).offer.id
    await offers.move(provider, offer_id, "published")
    return offer_id


def task(task_id: str, capability: str = "milling", **constraints: Any) -> dict[str, Any]:
    """A task node."""
    body: dict[str, Any] = {"id": task_id, "capability": capability}
    if constraints:
        body["constraints"] = constraints
    return {"task": body}


def requirement(*steps: dict[str, Any], name: str = "Parts", **constraints: Any) -> dict[str, Any]:
    """A requirement whose graph is a sequence of ``steps``."""
    doc: dict[str, Any] = {"name": name, "graph": {"sequence": list(steps)}}
    if constraints:
        doc["constraints"] = constraints
    return doc


@dataclass
class World:
    """A store with a user, a bystander, an operator and three providers."""

    db: Database
    offers: Offers
    orders: Orders
    systems: Systems
    bus: EventBus
    user: Principal
    other: Principal
    op: Principal
    p1: Principal
    p2: Principal
    p3: Principal


async def make_world(db: Database, tmp_path: Path, **kw: Any) -> World:
    """The organisations and services, not yet started."""
    bus = EventBus()
    offers = Offers(db, load_taxonomy())
    orders = Orders(db, DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'tele.duckdb'}"), bus)
    systems = Systems(db, offers, orders, bus, **({"sla_interval_s": 3600.0, "time_limit_s": 5.0} | kw))
    return World(
        db=db,
        offers=offers,
        orders=orders,
        systems=systems,
        bus=bus,
        user=await org(db, "Buyer", Role.USER),
        other=await org(db, "Bystander", Role.USER),
        op=await org(db, "Platform", Role.OPERATOR),
        p1=await org(db, "Fast Mill", Role.PROVIDER),
        p2=await org(db, "Slow Mill", Role.PROVIDER),
        p3=await org(db, "Drill Co", Role.PROVIDER),
    )


async def work(w: World, provider: Principal, order_id: str, outcome: str = "completed") -> None:
    """The provider accepts, starts and then completes (or fails) an order."""
    await w.orders.move(provider, order_id, "accepted")
    await w.orders.move(provider, order_id, "in_progress")
    await w.orders.move(provider, order_id, outcome)


def current(run: dict[str, Any], key: str) -> dict[str, Any]:
    """The newest attempt of a task instance in a run view."""
    return max((t for t in run["tasks"] if t["key"] == key), key=lambda t: t["attempt"])
