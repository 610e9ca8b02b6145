"""Construction: matching per task, reputation into options, selection, schedule on calendars, stored plans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from iplus.core.errors import InvalidInput, NotFound
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models_systems import ServiceSystem
from iplus.platform.catalog.spec import Window
from iplus.platform.systems.aggregate import Option
from iplus.platform.systems.requirement import parse_requirement
from tests.systems.helpers import World, make_world, offer, publish, requirement, task


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    await upgrade(db)
    yield await make_world(db, tmp_path)
    await db.close()


async def test_candidates_follow_matching_types_constraints_and_currency(w: World) -> None:
    mill = await publish(w.offers, w.p1, offer("Mill", "milling", price=50, time=2, rel=0.97))
    turn = await publish(w.offers, w.p2, offer("Lathe", "turning", price=30, time=1, rel=0.92))
    await publish(w.offers, w.p2, offer("Dear mill", "milling", price=500, time=1, rel=0.9))
    usd = offer("US mill", "milling", price=20)
    usd.qos["price"]["unit"] = "USD"
    await publish(w.offers, w.p3, usd)
    req = parse_requirement(
        requirement(
            task("shape", "machining", max_price=100),  # a super-type: milling and turning both match
            task("finish", "milling", min_reliability=0.95),
            budget=1000,
            currency="EUR",
        )
    )
    options, rejected = await w.systems.candidates(w.user, req)
    assert {o.offer_id for o in options["shape"]} == {mill, turn}
    assert [o.offer_id for o in options["finish"]] == [mill]
    reasons = {r["reason"].split(" (")[0] for r in rejected["shape"]}
    assert reasons == {"filter currency", "filter max_price"}
    got = next(o for o in options["finish"] if o.offer_id == mill)
    assert (got.time_h, got.cost, got.reliability, got.reputation, got.capacity) == (2, 50, 0.97, 0.5, 2)
    assert got.org_id == w.p1.org_id and got.version == 1


async def test_plan_is_stored_with_schedule_on_the_calendar_and_a_forecast(w: World) -> None:
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    calendar = (Window(opens, opens + timedelta(days=5)),)
    mill = await publish(w.offers, w.p1, offer("Mill", price=50, time=2, rel=0.9, calendar=calendar))
    doc = requirement(
        {"parallel": [task("a"), task("b")]},
        {"loop": {"count": 2, "do": task("c")}},
        deadline_h=200,
    )
    built = await w.systems.construct(w.user, doc)
    plan = built["plan"]
    assert plan["status"] == "optimal" and {c["offer_id"] for c in plan["choice"].values()} == {mill}
    # aggregate by hand: parallel max(2, 2) + loop 2 x 2 = 6 h; 4 executions x 50; 0.9^4
    assert plan["aggregate"]["time"] == pytest.approx(6)
    assert plan["aggregate"]["cost"] == pytest.approx(200)
    assert plan["aggregate"]["reliability"] == pytest.approx(0.9**4)
    items = plan["schedule"]["items"]
    starts = [datetime.fromisoformat(i["start"]) for i in items]
    ends = [datetime.fromisoformat(i["end"]) for i in items]
    # capacity 2: a and b side by side at the opening, then c twice in a row: 6 h of work
    assert len(items) == 4 and min(starts) == opens and max(ends) - opens == timedelta(hours=6)
    assert 0 <= plan["forecast"]["p_success"] <= 1
    again = await w.systems.plan(w.user, built["system"]["id"], 1)
    assert again == plan
    assert (await w.systems.get(w.user, built["system"]["id"]))["requirement"]["name"] == "Parts"


async def test_infeasible_by_matching_names_each_rejection(w: World) -> None:
    await publish(w.offers, w.p1, offer("Slow mill", price=10, time=9))
    built = await w.systems.construct(
        w.user, requirement(task("quick", max_time_h=4), task("weld", "welding"))
    )
    plan = built["plan"]
    assert plan["status"] == "infeasible" and plan["method"] == "matching"
    assert plan["explanation"][0].startswith("task quick: no published offer of type milling passes")
    assert "max_time_h (9.0 against 4.0)" in plan["explanation"][0]
    assert plan["explanation"][1] == (
        "task weld: no published offer of type welding passes its constraints (no offer of that type is published)"
    )
    assert plan["schedule"] is None and plan["forecast"] is None


async def test_bad_requirements_store_nothing_and_tenancy(w: World) -> None:
    with pytest.raises(InvalidInput) as bad:
        await w.systems.construct(w.user, requirement(task("x", "nonsense"), task("y", "welding")))
    assert bad.value.extra["errors"] == [
        "graph/sequence/0/task/capability: unknown capability type 'nonsense' (see GET /api/v1/taxonomy)"
    ]
    with pytest.raises(InvalidInput):
        await w.systems.construct(w.user, {"name": "x"})
    async with w.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(ServiceSystem)) == 0
    await publish(w.offers, w.p1, offer("Mill"))
    built = await w.systems.construct(w.user, requirement(task("m")))
    system_id = built["system"]["id"]
    with pytest.raises(NotFound):
        await w.systems.get(w.other, system_id)
    with pytest.raises(NotFound):
        await w.systems.replan(w.other, system_id)
    assert (await w.systems.list(w.other))[1] == 0
    assert (await w.systems.list(w.op))[1] == 1  # operators see every system
    assert (await w.systems.replan(w.user, system_id))["plan"]["number"] == 2


async def test_reselection_pins_done_tasks_and_excludes_failed_offers(w: World) -> None:
    a = await publish(w.offers, w.p1, offer("A", price=10, time=1, rel=0.99))
    b = await publish(w.offers, w.p2, offer("B", price=20, time=1, rel=0.95))
    req = parse_requirement(requirement(task("first"), task("second"), budget=100, currency="EUR"))
    done = Option(b, 1, w.p2.org_id, "B", time_h=3.0, cost=20, reliability=1, availability=1, reputation=0.5)
    plan = await w.systems.reselect(w.user, req, {"first": done}, {"second": {a}})
    assert plan.status == "optimal"
    assert plan.choice["first"] == done and plan.choice["second"].offer_id == b
    # the pinned task's measured time counts: 3 h + 1 h
    assert plan.aggregate["time"] == pytest.approx(4)
