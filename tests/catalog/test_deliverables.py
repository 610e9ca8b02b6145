"""Deliverables and auto-fulfilment on SQLite and PostgreSQL: who attaches, when, limits, tenancy, claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.roles import Role
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import OfferVersion, OrderDeliverable, ServiceOrder
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.platform.catalog.auto import AutoFulfilment, ServiceFailed
from iplus.platform.catalog.deliverables import MAX_DELIVERABLE_BYTES
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import Orders
from iplus.platform.catalog.spec import Window
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import load_taxonomy
from tests.catalog.helpers import org, qos, spec

T0 = datetime(2026, 7, 1, 8, tzinfo=UTC)
GOOD = {"material": "steel", "quantity": 4}
REPORT = {"title": "Inspection report", "figures": [{"label": "parts", "value": 4, "unit": "1"}]}


class Setup:
    def __init__(self, db: Database, orders: Orders, p: Principal, u: Principal, x: Principal, oid: str):
        self.db, self.orders, self.p, self.u, self.x, self.oid = db, orders, p, u, x, oid


@pytest.fixture
async def setup(database: Database, tmp_path: Path) -> Setup:
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'tele.duckdb'}")
    offers = Offers(database, load_taxonomy())
    orders = Orders(database, store, EventBus())
    p = await org(database, "Lab", Role.PROVIDER)
    u = await org(database, "Buyer", Role.USER)
    x = await org(database, "Bystander", Role.USER)
    outputs = {"type": "object", "x-test-service": "squares", "properties": {}}
    oid = (await offers.create(p, spec(qos=qos(cap=10), outputs=outputs))).offer.id
    await offers.move(p, oid, "published")
    return Setup(database, orders, p, u, x, oid)


def window(h0: int = 1, h1: int = 2) -> Window:
    return Window(T0 + timedelta(hours=h0), T0 + timedelta(hours=h1))


async def _in_progress(s: Setup) -> str:
    order = await s.orders.place(s.u, s.oid, GOOD, window())
    await s.orders.move(s.p, order.id, "accepted")
    await s.orders.move(s.p, order.id, "in_progress")
    return order.id


async def test_only_the_provider_attaches_while_in_progress(setup: Setup) -> None:
    s, d = setup, setup.orders.deliverables
    order = await s.orders.place(s.u, s.oid, GOOD, window())
    with pytest.raises(Conflict):  # requested: too early
        await d.attach(s.p, order.id, REPORT)
    await s.orders.move(s.p, order.id, "accepted")
    with pytest.raises(Conflict):  # accepted: still too early
        await d.attach(s.p, order.id, REPORT, complete=True)
    await s.orders.move(s.p, order.id, "in_progress")
    with pytest.raises(Conflict):  # the ordering organisation does not deliver
        await d.attach(s.u, order.id, REPORT)
    with pytest.raises(NotFound):  # a third organisation does not even see the order
        await d.attach(s.x, order.id, REPORT)
    with pytest.raises(NotFound):
        await d.get(s.u, order.id)
    await d.attach(s.p, order.id, {"title": "draft", "n": 1})
    assert (await s.orders.get(s.u, order.id)).status == "in_progress"
    await d.attach(s.p, order.id, REPORT, complete=True, reason="done")  # replaces the draft, completes
    done = await s.orders.get(s.u, order.id)
    assert done.status == "completed" and done.history[-1]["by"] == "provider"
    for who in (s.u, s.p):
        got = await d.get(who, order.id)
        assert got.content == REPORT and got.title == "Inspection report"
    with pytest.raises(NotFound):  # tenancy: the bystander cannot read it
        await d.get(s.x, order.id)
    with pytest.raises(Conflict):  # completed: frozen
        await d.attach(s.p, order.id, {"title": "late"})
    async with s.db.transaction() as t:
        assert len((await t.scalars(select(OrderDeliverable))).all()) == 1


async def test_bad_deliverables_store_nothing(setup: Setup) -> None:
    s, d = setup, setup.orders.deliverables
    order_id = await _in_progress(s)
    big = {"title": "big", "blob": "x" * MAX_DELIVERABLE_BYTES}
    for bad in ([1, 2], {"title": ""}, {"title": "t", "v": float("nan")}, big):
        with pytest.raises(InvalidInput):
            await d.attach(s.p, order_id, bad, complete=True)
    # nothing half-way: the order is still in progress and has no deliverable
    assert (await s.orders.get(s.u, order_id)).status == "in_progress"
    with pytest.raises(NotFound):
        await d.get(s.p, order_id)


def _squares(fail_on: int | None = None) -> Any:
    async def compute(order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        q = int(order.parameters["quantity"])
        if q == fail_on:
            raise ServiceFailed(f"no data for {q}")
        return {
            "title": "Squares",
            "series": [{"x": list(range(q)), "lines": [{"values": [i * i for i in range(q)]}]}],
        }

    return compute


def _auto(s: Setup, compute: Any, **kw: Any) -> AutoFulfilment:
    return AutoFulfilment(
        s.orders,
        "squares",
        ("milling",),
        lambda v: v.outputs.get("x-test-service") == "squares",
        compute,
        **kw,
    )


async def test_auto_fulfilment_completes_fails_and_claims_once(setup: Setup) -> None:
    s = setup
    ok = await s.orders.place(s.u, s.oid, {"material": "steel", "quantity": 5}, window())
    bad = await s.orders.place(s.u, s.oid, {"material": "steel", "quantity": 3}, window())
    # two processes sweep at once: every order is served exactly once
    first, second = _auto(s, _squares(fail_on=3)), _auto(s, _squares(fail_on=3))
    a, b = await asyncio.gather(first.sweep(), second.sweep())
    served = [o for o in a + b if o.status != "skipped"]
    assert sorted((o.order_id, o.status) for o in served) == sorted(
        [(ok.id, "completed"), (bad.id, "failed")]
    )
    done = await s.orders.get(s.u, ok.id)
    assert done.status == "completed"
    assert [h["status"] for h in done.history] == ["requested", "accepted", "in_progress", "completed"]
    got = await s.orders.deliverables.get(s.u, ok.id)
    assert got.content["series"][0]["lines"][0]["values"] == [0, 1, 4, 9, 16]
    failed = await s.orders.get(s.u, bad.id)
    assert failed.status == "failed" and "no data for 3" in failed.reason
    assert await first.sweep() == []  # idempotent: nothing left


async def test_auto_fulfilment_takes_over_a_stale_order(setup: Setup) -> None:
    s = setup
    order_id = await _in_progress(s)  # a process started it, then stopped
    auto = _auto(s, _squares(), stale_s=60)
    assert await auto.sweep() == []  # fresh: someone may be computing it
    async with s.db.transaction() as t:
        old = datetime.now(UTC) - timedelta(minutes=5)
        await t.execute(update(ServiceOrder).where(ServiceOrder.id == order_id).values(updated_at=old))
    assert [o.status for o in await auto.sweep()] == ["completed"]
    assert (await s.orders.deliverables.get(s.u, order_id)).content["title"] == "Squares"


async def test_auto_fulfilment_follows_order_events(setup: Setup) -> None:
    s = setup
    auto = _auto(s, _squares(), sweep_s=3600)  # only an event can wake it in time
    await auto.start()
    try:
        order = await s.orders.place(s.u, s.oid, GOOD, window())
        for _ in range(100):
            if (await s.orders.get(s.u, order.id)).status == "completed":
                break
            await asyncio.sleep(0.05)
        assert (await s.orders.get(s.u, order.id)).status == "completed"
    finally:
        await auto.stop()


async def test_start_returns_following_the_providers_so_no_order_waits_a_period(setup: Setup) -> None:
    s = setup
    auto = _auto(s, _squares(), sweep_s=3600)
    assert not s.orders.bus.listening(s.p.org_id)
    await auto.start()
    try:
        # already subscribed when start returns: an order placed now wakes the loop, one placed before was
        # found by its first sweep; none can fall between the first sweep's query and the subscription
        assert s.orders.bus.listening(s.p.org_id) and auto.running
        orders = [await s.orders.place(s.u, s.oid, GOOD, window()) for _ in range(3)]
        for _ in range(100):
            statuses = [(await s.orders.get(s.u, o.id)).status for o in orders]
            if statuses == ["completed"] * 3:
                break
            await asyncio.sleep(0.05)
        assert statuses == ["completed"] * 3
    finally:
        await auto.stop()
    assert not auto.running and not s.orders.bus.listening(s.p.org_id)


async def test_a_hung_computation_fails_the_order_and_the_sweep_goes_on(setup: Setup) -> None:
    s = setup
    hung = await s.orders.place(s.u, s.oid, {"material": "steel", "quantity": 7}, window())
    ok = await s.orders.place(s.u, s.oid, {"material": "steel", "quantity": 2}, window())

    async def compute(order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        if order.parameters["quantity"] == 7:
            await asyncio.Event().wait()  # a data source that never answers
        return {"title": "fine"}

    auto = _auto(s, compute, timeout_s=0.3)
    outcomes = {o.order_id: o for o in await asyncio.wait_for(auto.sweep(), timeout=10)}
    assert outcomes[hung.id].status == "failed" and "longer than 0.3 s" in outcomes[hung.id].reason
    assert outcomes[ok.id].status == "completed"
    failed = await s.orders.get(s.u, hung.id)
    assert failed.status == "failed" and "longer than" in failed.reason
    assert await s.orders.deliverables.find(s.u, hung.id) is None


async def test_errors_of_the_computation_fail_the_order_instead_of_leaving_it_in_progress(
    setup: Setup,
) -> None:
    s = setup
    order = await s.orders.place(s.u, s.oid, GOOD, window())

    async def compute(order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        raise Conflict("a resource the computation needs is busy")

    [outcome] = await _auto(s, compute).sweep()
    assert outcome.status == "failed"
    assert (await s.orders.get(s.u, order.id)).status == "failed"

    def odd(version: OfferVersion) -> bool:
        raise KeyError("x-test-service")

    second = await s.orders.place(s.u, s.oid, GOOD, window())
    broken = AutoFulfilment(s.orders, "odd", ("milling",), odd, _squares())
    assert await broken.sweep() == []  # a predicate that raises serves nothing and stops nothing
    assert (await s.orders.get(s.u, second.id)).status == "requested"


async def test_waiting_orders_of_a_retired_offer_are_rejected(setup: Setup) -> None:
    s = setup
    offers = Offers(s.db, load_taxonomy())
    waiting = await s.orders.place(s.u, s.oid, GOOD, window())
    started = await s.orders.place(s.u, s.oid, GOOD, window())
    await s.orders.move(s.p, started.id, "accepted")
    await offers.move(s.p, s.oid, "retired")
    outcomes = {o.order_id: o for o in await _auto(s, _squares()).sweep()}
    assert outcomes[waiting.id].status == "rejected" and "retired" in outcomes[waiting.id].reason
    assert outcomes[started.id].status == "completed"  # accepted before: still served
    rejected = await s.orders.get(s.u, waiting.id)
    assert rejected.status == "rejected" and "retired" in rejected.reason


async def test_a_cancellation_during_the_computation_stands(setup: Setup) -> None:
    s = setup
    order = await s.orders.place(s.u, s.oid, GOOD, window())

    async def compute(o: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
        await s.orders.move(s.u, o.id, "cancelled", "changed my mind")  # the user, meanwhile
        return {"title": "too late"}

    [outcome] = await _auto(s, compute).sweep()
    assert outcome.status == "skipped"
    assert (await s.orders.get(s.u, order.id)).status == "cancelled"
    assert await s.orders.deliverables.find(s.u, order.id) is None  # nothing half-way
