"""Orders on SQLite and PostgreSQL: the state machine, parties, capacity, and twins moving orders on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.roles import Role
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device, DeviceType
from iplus.infra.db.models_virtual import VirtualThing, VirtualThingLink
from iplus.infra.telemetry import Message
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import Orders, TwinReport, twin_target
from iplus.platform.catalog.spec import Window
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import load_taxonomy
from tests.catalog.helpers import org, qos, spec

T0 = datetime(2026, 7, 1, 8, tzinfo=UTC)
GOOD = {"material": "steel", "quantity": 4}


class Setup:
    def __init__(
        self, db: Database, orders: Orders, offers: Offers, p: Principal, u: Principal, x: Principal, oid: str
    ):
        self.db, self.orders, self.offers, self.p, self.u, self.x, self.oid = db, orders, offers, p, u, x, oid


@pytest.fixture
async def setup(database: Database, tmp_path: Path) -> Setup:
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'tele.duckdb'}")
    offers = Offers(database, load_taxonomy())
    orders = Orders(database, store, EventBus())
    p = await org(database, "Mill & Co", Role.PROVIDER)
    u = await org(database, "Buyer", Role.USER)
    x = await org(database, "Bystander", Role.USER)
    async with database.transaction() as s:
        kind = DeviceType(org_id=p.org_id, name="mill", thing_model={})
        s.add(kind)
        await s.flush()
        s.add(Device(id="mill-1", org_id=p.org_id, type_id=kind.id, name="mill", token_hash="x"))
        thing = VirtualThing(
            org_id=p.org_id,
            kind="resource",
            type="cnc_mill",
            domain="manufacturing",
            title="M",
            affordances={},
        )
        s.add(thing)
        await s.flush()
        s.add(VirtualThingLink(org_id=p.org_id, thing_id=thing.id, device_id="mill-1", mapping={}))
        thing_id = thing.id
    calendar = (Window(T0, T0 + timedelta(days=2)),)
    oid = (await offers.create(p, spec(things=(thing_id,), calendar=calendar, qos=qos(cap=1)))).offer.id
    await offers.move(p, oid, "published")
    return Setup(database, orders, offers, p, u, x, oid)


def window(h0: int, h1: int) -> Window:
    return Window(T0 + timedelta(hours=h0), T0 + timedelta(hours=h1))


async def test_order_life_cycle_and_parties(setup: Setup) -> None:
    o, p, u, x = setup.orders, setup.p, setup.u, setup.x
    order = await o.place(u, setup.oid, GOOD, window(1, 5))
    assert order.status == "requested" and order.devices == ["mill-1"] and order.provider_org_id == p.org_id
    with pytest.raises(NotFound):  # a bystander does not see it
        await o.get(x, order.id)
    assert (await o.list(x))[1] == 0
    assert [i.id for i in (await o.list(p, role="provider"))[0]] == [order.id]
    assert [i.id for i in (await o.list(u, role="user"))[0]] == [order.id]
    assert (await o.list(u, role="provider"))[1] == 0
    with pytest.raises(Conflict):  # the user does not accept its own order
        await o.move(u, order.id, "accepted")
    with pytest.raises(Conflict):  # not before it is accepted
        await o.move(p, order.id, "completed")
    await o.move(p, order.id, "accepted")
    await o.move(p, order.id, "in_progress")
    done = await o.move(p, order.id, "completed")
    assert [h["status"] for h in done.history] == ["requested", "accepted", "in_progress", "completed"]
    stamps = [datetime.fromisoformat(h["at"]) for h in done.history]
    assert stamps == sorted(stamps)
    for to in ("cancelled", "failed", "accepted"):
        with pytest.raises(Conflict):
            await o.move(p, order.id, to)
    rejected = await o.place(u, setup.oid, GOOD, window(6, 8))
    await o.move(p, rejected.id, "rejected", "machine booked for maintenance")
    cancelled = await o.place(u, setup.oid, GOOD, window(6, 8))
    assert (await o.move(u, cancelled.id, "cancelled")).status == "cancelled"


async def test_order_input_window_capacity(setup: Setup) -> None:
    o, p, u = setup.orders, setup.p, setup.u
    with pytest.raises(InvalidInput) as info:
        await o.place(u, setup.oid, {"material": "steel", "quantity": 0, "length": "long"}, window(1, 2))
    assert any(e.startswith("/length") for e in info.value.extra["errors"])
    assert any(e.startswith("/quantity") for e in info.value.extra["errors"])
    with pytest.raises(InvalidInput):  # outside the calendar
        await o.place(u, setup.oid, GOOD, window(40, 50))
    with pytest.raises(InvalidInput):
        await o.place(u, setup.oid, GOOD, window(5, 5))
    first = await o.place(u, setup.oid, GOOD, window(1, 5))
    second = await o.place(u, setup.oid, GOOD, window(4, 6))
    await o.move(p, first.id, "accepted")
    with pytest.raises(Conflict):  # capacity 1: the overlapping one cannot be accepted too
        await o.move(p, second.id, "accepted")
    with pytest.raises(Conflict):
        await o.place(u, setup.oid, GOOD, window(2, 3))
    assert (await o.place(u, setup.oid, GOOD, window(5, 7))).status == "requested"  # touching is fine
    await setup.offers.move(p, setup.oid, "suspended")
    with pytest.raises(NotFound):
        await o.place(u, setup.oid, GOOD, window(8, 9))


def reading(org: str, device: str, ts: int, **values: object) -> Message:
    return Message(org, "type", device, None, [(k, ts, v) for k, v in values.items()])  # type: ignore[misc]


async def test_twin_reports_move_the_order(setup: Setup) -> None:
    o, p, u = setup.orders, setup.p, setup.u
    listeners: list[object] = []
    await o.start(listeners)
    try:
        order = await o.place(u, setup.oid, GOOD, window(1, 5))
        o.on_messages([reading(p.org_id, "mill-1", 1, progress=30.0)])  # not accepted yet: ignored
        await o.drain()
        assert (await o.get(u, order.id)).status == "requested"
        await o.move(p, order.id, "accepted")
        o.on_messages(
            [
                reading(p.org_id, "mill-1", 2, progress=40.0, state="working"),
                reading(p.org_id, "other", 2, progress=99.0),
            ]
        )
        await o.drain()
        got = await o.get(u, order.id)
        assert (got.status, got.progress, got.twin_state) == ("in_progress", 40.0, "working")
        o.on_messages([reading(p.org_id, "mill-1", 3, progress=100.0)])
        await o.drain()
        got = await o.get(u, order.id)
        assert got.status == "completed" and got.progress == 100.0
        assert [h["by"] for h in got.history] == ["user", "provider", "twin", "twin"]
        # a finished order no longer follows the device
        o.on_messages([reading(p.org_id, "mill-1", 4, state="failed")])
        await o.drain()
        assert (await o.get(u, order.id)).status == "completed"
        assert o.on_messages in listeners
    finally:
        await o.stop()


def test_twin_targets() -> None:
    r = lambda progress=None, state=None: TwinReport("d", progress, state)  # noqa: E731
    assert twin_target("accepted", r(progress=0.0)) is None
    assert twin_target("accepted", r(progress=1.0)) == "in_progress"
    assert twin_target("accepted", r(state="Done")) == "completed"
    assert twin_target("in_progress", r(state="error")) == "failed"
    assert twin_target("in_progress", r(progress=100.0)) == "completed"
    assert twin_target("in_progress", r(progress=50.0)) is None
    assert twin_target("requested", r(progress=100.0)) is None


async def test_an_order_accepted_elsewhere_is_followed_after_a_refresh(setup: Setup, tmp_path: Path) -> None:
    worker = setup.orders  # e.g. the process that reads MQTT
    api = Orders(setup.db, DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'other.duckdb'}"), EventBus())
    await worker.start([])
    try:
        order = await api.place(setup.u, setup.oid, GOOD, window(1, 5))
        await api.move(setup.p, order.id, "accepted")
        worker.on_messages([reading(setup.p.org_id, "mill-1", 1, progress=10.0)])
        await worker.drain()
        assert (await worker.get(setup.u, order.id)).status == "accepted"  # not known here yet
        await worker.refresh()
        worker.on_messages([reading(setup.p.org_id, "mill-1", 2, progress=20.0)])
        await worker.drain()
        assert (await worker.get(setup.u, order.id)).status == "in_progress"
    finally:
        await worker.stop()
