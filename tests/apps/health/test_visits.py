"""Elderly-care visits: offers in the catalog, a family's order run by run management, the provider's moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from iplus.apps.health.visits import VISIT_INPUTS, Visits, visit_requirement
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.infra.db.engine import Database
from iplus.platform.catalog.spec import OfferSpec
from tests.catalog.helpers import qos
from tests.systems.helpers import World, make_world, publish


@pytest.fixture
async def w(sqlite: Database, tmp_path: Path) -> AsyncIterator[World]:
    world = await make_world(sqlite, tmp_path)
    await world.systems.start()
    yield world
    await world.systems.stop()


def care(title: str, kind: str, price: float, time: float, rel: float) -> OfferSpec:
    return OfferSpec(
        title=title, capability_type=kind, qos=qos(price=price, time=time, rel=rel), inputs=VISIT_INPUTS
    )


async def family_view(w: World, visits: Visits) -> dict[str, Any]:
    await w.systems.runs.drain()
    return (await visits.of_family(w.user))[0]


async def test_a_family_orders_a_visit_and_a_nursing_check_the_provider_carries_them_out(w: World) -> None:
    visits = Visits(w.db, w.systems, w.orders)
    home = await publish(w.offers, w.p1, care("Home visit", "elderly_care", 35, 1.5, 0.97))
    await publish(w.offers, w.p2, care("Pricey visit", "elderly_care", 90, 1.5, 0.9))  # worse on every count
    nurse = await publish(w.offers, w.p1, care("Nursing visit", "nursing", 48, 1, 0.98))
    made = await visits.order(
        w.user,
        {
            "title": "Mum, Tuesday",
            "focus": "medication",
            "nursing": True,
            "deadline_h": 48,
            "budget": 200,
            "currency": "EUR",
        },
    )
    assert made["plan"]["status"] == "optimal"
    assert {t: c["offer_id"] for t, c in made["plan"]["choice"].items()} == {"visit": home, "nursing": nurse}

    view = await family_view(w, visits)
    assert view["title"] == "Mum, Tuesday" and view["status"] == "running"
    tasks = {t["key"]: t for t in view["run"]["tasks"]}
    assert tasks["visit"]["state"] == "dispatched" and tasks["nursing"]["state"] == "pending"

    # the provider sees the visit order, with the family's focus and nothing that names anyone
    received = await visits.received(w.p1)
    assert [(o["title"], o["status"], o["parameters"]) for o in received] == [
        ("Home visit", "requested", {"focus": "medication"})
    ]
    assert await visits.received(w.p3) == []
    with pytest.raises(NotFound):
        await visits.move(w.p3, received[0]["id"], "accepted")
    for step in ("accepted", "in_progress", "completed"):
        assert (await visits.move(w.p1, received[0]["id"], step))["status"] == step
    view = await family_view(w, visits)
    tasks = {t["key"]: t for t in view["run"]["tasks"]}
    assert tasks["visit"]["state"] == "done" and tasks["nursing"]["state"] == "dispatched"

    nursing = next(o for o in await visits.received(w.p1) if o["title"] == "Nursing visit")
    for step in ("accepted", "in_progress", "completed"):
        await visits.move(w.p1, nursing["id"], step)
    view = await family_view(w, visits)
    assert view["status"] == "completed" and view["run"]["progress"] == {"done": 2, "total": 2}


async def test_no_provider_no_run_and_bad_orders_are_refused(w: World) -> None:
    visits = Visits(w.db, w.systems, w.orders)
    with pytest.raises(Conflict, match="no provider can take this visit"):
        await visits.order(w.user, {"focus": "companionship"})
    assert (await visits.of_family(w.user))[0]["status"] == "not started"
    with pytest.raises(InvalidInput) as exc:
        visit_requirement({"focus": "gardening", "nursing": "yes", "x": 1})
    assert exc.value.extra["errors"] == [
        "/x: unknown field",
        "/focus: one of companionship, daily_living, medication, mobility, hygiene",
        "/nursing: true to add a nursing check after the visit",
    ]
    with pytest.raises(Forbidden):
        await visits.order(w.p1, {"focus": "companionship"})  # a provider organisation is no family
    requirement, inputs, _ = visit_requirement({"budget": 80})
    assert requirement["constraints"] == {"budget": 80, "currency": "EUR"}
    assert [s["task"]["capability"] for s in requirement["graph"]["sequence"]] == ["elderly_care"]
    assert inputs == {"visit": {"focus": "companionship"}}
