"""Run management on SQLite and PostgreSQL: dispatch, re-selection after a failure, SLA, cancellation, tenancy."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models_stream import Alarm
from iplus.infra.db.models_systems import ServiceExecution
from iplus.platform.systems.requirement import parse_requirement
from iplus.platform.systems.rungraph import TASK_TRANSITIONS, check_task_move, unroll
from iplus.platform.systems.runs import SLA_RULE
from tests.systems.helpers import World, current, make_world, offer, publish, requirement, task, work


@pytest.fixture
async def w(database: Database, tmp_path: Path) -> AsyncIterator[World]:
    """A world on each metadata store (the run's core paths run on both)."""
    world = await make_world(database, tmp_path)
    await world.systems.start()
    yield world
    await world.systems.stop()


@pytest.fixture
async def ws(tmp_path: Path) -> AsyncIterator[World]:
    """A world on SQLite only (paths with no store-specific SQL of their own)."""
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    await upgrade(db)
    world = await make_world(db, tmp_path)
    await world.systems.start()
    yield world
    await world.systems.stop()
    await db.close()


async def run_view(w: World, run_id: str) -> dict[str, Any]:
    await w.systems.runs.drain()
    return await w.systems.views.get(w.user, run_id)


async def two_step(w: World) -> tuple[str, str, str, str]:
    """drill (only Drill Co) then mill (Fast Mill preferred over Slow Mill); a stored plan."""
    drill = await publish(w.offers, w.p3, offer("Drilling", "drilling", price=20, time=1))
    fast = await publish(w.offers, w.p1, offer("Fast milling", price=50, time=1, rel=0.99))
    slow = await publish(w.offers, w.p2, offer("Slow milling", price=90, time=3, rel=0.9))
    built = await w.systems.construct(
        w.user,
        requirement(task("drill", "drilling"), task("mill"), deadline_h=24, budget=500, currency="EUR"),
    )
    assert built["plan"]["status"] == "optimal", built["plan"]["explanation"]
    assert built["plan"]["choice"]["mill"]["offer_id"] == fast
    return built["system"]["id"], drill, fast, slow


async def test_failure_mid_way_is_reselected_and_lowers_the_providers_reputation(w: World) -> None:
    system_id, _, fast, slow = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    run = await run_view(w, run_id)
    assert current(run, "drill")["state"] == "dispatched" and current(run, "mill")["state"] == "pending"

    await work(w, w.p3, current(run, "drill")["order_id"])
    run = await run_view(w, run_id)
    assert current(run, "drill")["state"] == "done"
    first = current(run, "mill")
    assert first["state"] == "dispatched" and first["offer_id"] == fast

    # the fast mill takes the order, starts, and fails mid-way
    await work(w, w.p1, first["order_id"], "failed")
    run = await run_view(w, run_id)
    again = current(run, "mill")
    assert again["attempt"] == 2 and again["offer_id"] == slow and again["state"] == "dispatched"
    kinds = [e["kind"] for e in run["history"]]
    assert kinds.index("failed") < kinds.index("reselected") < len(kinds)
    reselected = next(e for e in run["history"] if e["kind"] == "reselected")
    assert reselected["detail"]["excluded"] == [fast]

    await work(w, w.p2, again["order_id"])
    run = await run_view(w, run_id)
    assert run["status"] == "completed" and run["progress"] == {"done": 2, "total": 2}
    assert [t["state"] for t in run["tasks"]] == ["done", "failed", "done"]

    # the failure is evidence against the fast mill: one negative unit, aged by lambda per day
    async with w.db.transaction() as s:
        rows = (await s.scalars(select(ServiceExecution).order_by(ServiceExecution.finished_at))).all()
    failed = [e for e in rows if e.offer_id == fast]
    assert [e.success for e in failed] == [False] and {e.success for e in rows if e.offer_id != fast} == {
        True
    }
    now = failed[0].finished_at + timedelta(days=3)
    s_fast = 0.98 ** ((now - failed[0].finished_at).total_seconds() / 86400)
    expected = (0 + 1) / (0 + s_fast + 2)
    p1 = (await w.systems.reputations.providers([w.p1.org_id], now))[w.p1.org_id]
    assert p1.reputation == pytest.approx(expected, rel=1e-12) and p1.reputation < 0.5
    ok = [e for e in rows if e.offer_id == slow]
    r_slow = 0.98 ** ((now - ok[0].finished_at).total_seconds() / 86400)
    p2 = (await w.systems.reputations.providers([w.p2.org_id], now))[w.p2.org_id]
    assert p2.reputation == pytest.approx((r_slow + 1) / (r_slow + 2), rel=1e-12) and p2.reputation > 0.5
    # and the next construction ranks the fast mill with that lower reputation
    again_built = await w.systems.construct(w.user, requirement(task("mill")))
    ranked = {r["offer_id"]: r for r in again_built["plan"]["ranking"]["mill"]}
    assert ranked[fast]["qos"]["reputation"] < 0.5 < ranked[slow]["qos"]["reputation"]


async def test_rejection_and_unavailable_offers_are_reselected_without_evidence(ws: World) -> None:
    w = ws
    system_id, _, fast, slow = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    run = await run_view(w, run_id)
    await work(w, w.p3, current(run, "drill")["order_id"])
    run = await run_view(w, run_id)
    await w.orders.move(w.p1, current(run, "mill")["order_id"], "rejected", "fully booked")
    run = await run_view(w, run_id)
    assert current(run, "mill")["offer_id"] == slow
    async with w.db.transaction() as s:
        offers = set((await s.scalars(select(ServiceExecution.offer_id))).all())
    assert fast not in offers  # a refusal is not a broken promise

    # the only other mill is then withdrawn: nothing is left, the run fails and undoes the drilling
    await w.orders.move(w.p2, current(run, "mill")["order_id"], "rejected")
    run = await run_view(w, run_id)
    assert run["status"] == "failed" and "re-selection found no plan" in run["reason"]
    assert current(run, "drill")["state"] == "compensated"


async def test_cancellation_compensates_done_tasks_and_cancels_open_orders(w: World) -> None:
    system_id, *_ = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    run = await run_view(w, run_id)
    await work(w, w.p3, current(run, "drill")["order_id"])
    run = await run_view(w, run_id)
    mill_order = current(run, "mill")["order_id"]
    await w.orders.move(w.p1, mill_order, "accepted")
    with pytest.raises(NotFound):  # another organisation cannot cancel it
        await w.systems.runs.cancel(w.other, run_id)
    await w.systems.runs.cancel(w.user, run_id, "changed my mind")
    run = await run_view(w, run_id)
    assert run["status"] == "cancelled" and run["reason"] == "changed my mind"
    assert current(run, "drill")["state"] == "compensated" and current(run, "mill")["state"] == "cancelled"
    assert (await w.orders.get(w.user, mill_order)).status == "cancelled"
    assert "compensated" in [e["kind"] for e in run["history"]]
    with pytest.raises(Conflict, match="cancelled: it cannot become cancelled"):
        await w.systems.runs.cancel(w.user, run_id)


async def test_a_late_task_raises_an_sla_alarm_and_is_reselected(ws: World) -> None:
    w = ws
    system_id, drill, _, _ = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1, slack=0.5)
    run = await run_view(w, run_id)
    order = current(run, "drill")["order_id"]
    await w.orders.move(w.p3, order, "accepted")
    await w.orders.move(w.p3, order, "in_progress")
    run = await run_view(w, run_id)
    started = current(run, "drill")["started_at"]
    assert started is not None
    t0 = datetime.fromisoformat(started)
    # promised 1 h, slack 50 %: at 1.4 h nothing happens, at 1.6 h the task is late
    assert await w.systems.runs.check_sla(t0 + timedelta(hours=1.4)) == []
    raised = await w.systems.runs.check_sla(t0 + timedelta(hours=1.6))
    assert len(raised) == 1 and raised[0]["rule"] == SLA_RULE and "late" in raised[0]["detail"]
    assert (await w.orders.get(w.user, order)).status == "cancelled"
    run = await run_view(w, run_id)
    late = next(t for t in run["tasks"] if t["key"] == "drill")
    assert late["state"] == "failed" and late["late"] is True
    # only one drilling offer exists and it is excluded now: nothing is left
    assert run["status"] == "failed"
    async with w.db.transaction() as s:
        alarm = await s.scalar(select(Alarm).where(Alarm.rule_id == run_id))
        ex = (await s.scalars(select(ServiceExecution))).all()
    assert alarm is not None and alarm.org_id == w.user.org_id and alarm.status == "raised"
    assert [(e.offer_id, e.success) for e in ex] == [(drill, False)]
    assert ex[0].actual_time_h == pytest.approx(1.6, abs=1e-6)


async def test_deadline_alarm_is_raised_once(ws: World) -> None:
    w = ws
    system_id, *_ = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1, slack=10)
    run = await run_view(w, run_id)
    began = datetime.fromisoformat(run["started_at"])
    # the deadline is 24 h; the drilling (1 h promised, 1000 % slack) is not late before 11 h
    first = await w.systems.runs.check_sla(began + timedelta(hours=10.9))
    assert first == []
    await work(w, w.p3, current(run, "drill")["order_id"])
    await w.systems.runs.drain()
    first = await w.systems.runs.check_sla(began + timedelta(hours=24.5))
    # the mill is late by then too (dispatched at the start, 11 h allowed): it is re-selected
    by_subject = {a["subject"]: a for a in first}
    assert set(by_subject) == {f"run:{run_id}", f"run:{run_id}/mill/1"}
    assert "past its deadline by 0.50 h" in by_subject[f"run:{run_id}"]["detail"]
    later = await w.systems.runs.check_sla(began + timedelta(hours=24.6))
    assert f"run:{run_id}" not in {a["subject"] for a in later}


async def test_tenancy_of_runs(w: World) -> None:
    system_id, *_ = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    await w.systems.runs.drain()
    with pytest.raises(NotFound):
        await w.systems.views.get(w.other, run_id)
    with pytest.raises(NotFound):
        await w.systems.runs.start_run(w.other, system_id)
    assert (await w.systems.views.list(w.other))[1] == 0
    # the drilling provider sees the run, but only its own task and history
    seen = await w.systems.views.get(w.p3, run_id)
    assert {t["key"] for t in seen["tasks"]} == {"drill"}
    assert all(e["task"] == "drill" for e in seen["history"])
    assert (await w.systems.views.list(w.p3))[1] == 1
    # the fast mill has nothing dispatched yet: it does not see the run
    with pytest.raises(NotFound):
        await w.systems.views.get(w.p1, run_id)
    whole = await w.systems.views.get(w.op, run_id)
    assert {t["key"] for t in whole["tasks"]} == {"drill", "mill"}


async def test_ratings_once_per_finished_task_and_validated(ws: World) -> None:
    w = ws
    system_id, *_ = await two_step(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    run = await run_view(w, run_id)
    with pytest.raises(Conflict, match="once it has finished"):
        await w.systems.views.rate(w.user, run_id, "drill", 5)
    await work(w, w.p3, current(run, "drill")["order_id"])
    await w.systems.runs.drain()
    with pytest.raises(InvalidInput) as bad:
        await w.systems.views.rate(w.user, run_id, "drill", 6, "x" * 2001, attempt=0)
    assert bad.value.extra["errors"] == [
        "stars: an integer from 1 to 5",
        "comment: at most 2000 characters",
        "attempt: an integer from 1 to 1000000",
    ]
    with pytest.raises(InvalidInput):
        await w.systems.views.rate(w.user, run_id, "drill", True)
    with pytest.raises(NotFound):
        await w.systems.views.rate(w.user, run_id, "nope", 4)
    with pytest.raises(NotFound):
        await w.systems.views.rate(w.other, run_id, "drill", 4)
    rated = await w.systems.views.rate(w.user, run_id, "drill", 4, " good ")
    assert rated["stars"] == 4 and rated["comment"] == "good"
    with pytest.raises(Conflict, match="already rated"):
        await w.systems.views.rate(w.user, run_id, "drill", 5)
    standing = (await w.systems.reputations.offers([current(run, "drill")["offer_id"]]))[
        current(run, "drill")["offer_id"]
    ]
    # one success (1, 0) and four stars (0.75, 0.25), both a moment old
    assert standing.ratings == 1 and standing.executions == 1
    assert standing.reputation == pytest.approx((1.75 + 1) / (2 + 2), abs=1e-6)


def test_task_state_machine_refuses_illegal_moves() -> None:
    legal = {(a, b) for a, targets in TASK_TRANSITIONS.items() for b in targets}
    assert legal == {
        ("pending", "dispatched"),
        ("pending", "failed"),
        ("pending", "cancelled"),
        ("dispatched", "running"),
        ("dispatched", "failed"),
        ("dispatched", "cancelled"),
        ("running", "done"),
        ("running", "failed"),
        ("running", "cancelled"),
        ("done", "compensated"),
    }
    for a in TASK_TRANSITIONS:
        for b in TASK_TRANSITIONS:
            if (a, b) in legal:
                check_task_move(a, b)
            else:
                with pytest.raises(Conflict):
                    check_task_move(a, b)


def test_unroll_draws_choices_with_their_probabilities_and_repeats_loops() -> None:
    req = parse_requirement(
        {
            "name": "x",
            "graph": {
                "sequence": [
                    {"task": {"id": "a", "capability": "milling"}},
                    {
                        "loop": {
                            "count": 2,
                            "do": {
                                "choice": [
                                    {"p": 0.25, "do": {"task": {"id": "b", "capability": "milling"}}},
                                    {"p": 0.75, "do": {"task": {"id": "c", "capability": "milling"}}},
                                ]
                            },
                        }
                    },
                    {
                        "parallel": [
                            {"task": {"id": "d", "capability": "milling"}},
                            {"task": {"id": "e", "capability": "milling"}},
                        ]
                    },
                    {"task": {"id": "f", "capability": "milling"}},
                ]
            },
        }
    )
    path = "graph/sequence/1/loop/do/choice"
    instances, outcomes = unroll(req.root, random.Random(0), {path: 1})
    assert [(i.key, i.after) for i in instances] == [
        ("a", ()),
        ("c#1", ("a",)),
        ("c#2", ("c#1",)),
        ("d", ("c#2",)),
        ("e", ("c#2",)),
        ("f", ("d", "e")),
    ]
    assert outcomes == {f"{path}#1": 1, f"{path}#2": 1}
    # drawn: over many iterations branch 0 comes up a quarter of the time (binomial, 5 sigma)
    n = 4000
    counts = [0, 0]
    rng = random.Random(7)
    for _ in range(n // 2):
        _, drawn = unroll(req.root, rng)
        for v in drawn.values():
            counts[v] += 1
    sigma = (n * 0.25 * 0.75) ** 0.5
    assert abs(counts[0] - n * 0.25) < 5 * sigma
