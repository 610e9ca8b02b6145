"""Regressions found by the adversarial review of service systems: each test failed before its fix."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.roles import Role
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.db.models_systems import ServiceRun
from iplus.platform.catalog.spec import OfferSpec
from iplus.platform.context import Context
from iplus.platform.systems import service as service_module
from iplus.platform.systems.requirement import parse_requirement
from iplus.platform.systems.schedule import schedule
from iplus.platform.systems.selection import Option
from iplus.platform.systems.selection import select as select_plan
from iplus.platform.systems.service import Systems
from tests.catalog.helpers import MILLING_INPUTS, org, qos
from tests.systems.helpers import (
    NO_INPUTS,
    World,
    current,
    make_world,
    offer,
    publish,
    requirement,
    task,
    work,
)


@pytest.fixture
async def ws(tmp_path: Path) -> AsyncIterator[World]:
    """A world on SQLite, started."""
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    await upgrade(db)
    world = await make_world(db, tmp_path)
    await world.systems.start()
    yield world
    await world.systems.stop()
    await db.close()


@pytest.fixture
async def w(database: Database, tmp_path: Path) -> AsyncIterator[World]:
    """A world on each metadata store, started."""
    world = await make_world(database, tmp_path)
    await world.systems.start()
    yield world
    await world.systems.stop()


def problems_of(doc: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_requirement(doc)
    return [str(e) for e in caught.value.extra.get("errors", [])]


async def view(w: World, run_id: str) -> dict[str, Any]:
    await w.systems.runs.drain()
    return await w.systems.views.get(w.user, run_id)


async def one_mill(w: World, **kw: Any) -> tuple[str, str]:
    """One milling offer and a stored one-task plan on it: (offer id, system id)."""
    mill = await publish(w.offers, w.p1, offer("Mill", price=50, time=1, **kw))
    built = await w.systems.construct(w.user, requirement(task("mill")))
    assert built["plan"]["status"] == "optimal", built["plan"]["explanation"]
    return mill, built["system"]["id"]


# requirement parsing ------------------------------------------------------------------------
def test_weights_too_large_to_add_up_are_still_normalised() -> None:
    # was: OverflowError from fsum, a 500
    req = parse_requirement(
        {"name": "x", "graph": task("a"), "weights": {"time": 1e308, "cost": 1e308, "reliability": 0}}
    )
    assert req.weights == {
        "time": 0.5,
        "cost": 0.5,
        "reliability": 0.0,
        "availability": 0.0,
        "reputation": 0.0,
    }


def test_requirement_size_limits_are_the_ones_runs_and_schedules_hold() -> None:
    # was: 3,000 executions passed the parser, then a run refused more than 2,000 task instances and a
    # choice of 3 x 2,000 failed the schedule (at most 5,000) only after the whole selection had run
    three = {"loop": {"count": 1000, "do": {"sequence": [task("a"), task("b"), task("c")]}}}
    assert problems_of({"name": "x", "graph": three}) == [
        "graph: at most 2,000 task executions in a run (loops multiply), found 3,000"
    ]
    branches = [
        {"p": p, "do": {"loop": {"count": 1000, "do": {"sequence": [task(f"{b}1"), task(f"{b}2")]}}}}
        for b, p in (("x", 0.5), ("y", 0.4999), ("z", 0.0001))
    ]
    found = problems_of({"name": "x", "graph": {"choice": branches}})
    assert found == [
        "graph: at most 5,000 task executions to schedule (loops unrolled, every choice branch), found 6,000"
    ]
    ok = {"loop": {"count": 1000, "do": {"sequence": [task("a"), task("b")]}}}
    assert parse_requirement({"name": "x", "graph": ok}).root is not None


def test_nul_characters_in_requirement_texts_are_named() -> None:
    # was: stored on SQLite; PostgreSQL refused it as a bare "value not accepted", no path
    doc = {
        "name": "a\x00b",
        "graph": {"task": {"id": "a", "capability": "mil\x00ling", "parameters": {"p\x00": "m\x00"}}},
    }
    assert problems_of(doc) == [
        "name: no NUL characters",
        "graph/task/capability: no NUL characters",
        "graph/task/parameters/p\x00: no NUL characters",
    ]


# bad input answered as such, never a crash ---------------------------------------------------
async def test_numbers_beyond_the_store_are_refused_not_a_crash(ws: World) -> None:
    # was: OverflowError from the SQLite driver (a 500) for a plan or attempt number past 2^63
    w = ws
    _, system_id = await one_mill(w)
    with pytest.raises(InvalidInput) as bad:
        await w.systems.runs.start_run(w.user, system_id, 10**30)
    assert bad.value.extra["errors"] == ["plan: a plan number from 1 to 1000000"]
    with pytest.raises(NotFound):
        await w.systems.plan(w.user, system_id, 10**30)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    with pytest.raises(InvalidInput) as bad:
        await w.systems.views.rate(w.user, run_id, "mill", 5, attempt=10**30)
    assert bad.value.extra["errors"] == ["attempt: an integer from 1 to 1000000"]


async def test_run_inputs_are_checked_before_anything_is_stored(ws: World) -> None:
    # was: NaN and 40-deep values were stored with the run; the orders then refused them, so the run
    # failed at once and excluded a provider that had done nothing wrong. Inputs the planned offer's
    # schema refuses went the same way.
    w = ws
    _, system_id = await one_mill(w)
    deep: Any = 1
    for _ in range(40):
        deep = {"x": deep}
    with pytest.raises(InvalidInput) as bad:
        await w.systems.runs.start_run(w.user, system_id, inputs={"mill": {"a": float("nan"), "b": deep}})
    errors = bad.value.extra["errors"]
    assert errors[0] == "inputs/mill/a: numbers must be finite"
    assert errors[1].startswith("inputs/mill/b/x/x/") and errors[1].endswith("nested deeper than 32 levels")
    with pytest.raises(InvalidInput) as bad:
        await w.systems.runs.start_run(w.user, system_id, inputs={"mill": {"c": "y" * 200_000}})
    assert bad.value.extra["errors"] == ["inputs/mill: at most 100,000 characters"]
    needs = OfferSpec(title="Drill", capability_type="drilling", qos=qos(), inputs=MILLING_INPUTS)
    await publish(w.offers, w.p3, needs)
    built = await w.systems.construct(w.user, requirement(task("drill", "drilling")))
    with pytest.raises(InvalidInput) as bad:
        await w.systems.runs.start_run(w.user, built["system"]["id"], inputs={"drill": {"quantity": 0}})
    assert bad.value.extra["errors"] == [
        "inputs/drill: 'material' is a required property",
        "inputs/drill/quantity: 0 is less than the minimum of 1",
    ]
    async with w.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(ServiceRun)) == 0
    ok = await w.systems.runs.start_run(
        w.user, built["system"]["id"], inputs={"drill": {"material": "steel", "quantity": 2}}
    )
    assert current(await view(w, ok), "drill")["state"] == "dispatched"


async def test_offers_with_qos_beyond_planning_are_left_out_not_a_crash(ws: World) -> None:
    # was: a time of 1e300 h broke the schedule (TypeError, a 500), 1e307 days was an infinite time the
    # selection refused as bad input (a 422 for the user) and a price of 1e308 overflowed its sums: one
    # provider's absurd declaration broke every user's plan of that type
    w = ws
    slow = await publish(
        w.offers,
        w.p2,
        OfferSpec(title="Forever", capability_type="milling", qos=qos(time=1e300), inputs=NO_INPUTS),
    )
    days = qos() | {"time": {"value": 1e307, "unit": "d"}}
    endless = await publish(
        w.offers, w.p2, OfferSpec(title="Endless", capability_type="milling", qos=days, inputs=NO_INPUTS)
    )
    rich = await publish(
        w.offers,
        w.p2,
        OfferSpec(title="Dear", capability_type="milling", qos=qos(price=1e308), inputs=NO_INPUTS),
    )
    huge = await publish(
        w.offers,
        w.p3,
        OfferSpec(title="Huge", capability_type="drilling", qos=qos(cap=1e308), inputs=NO_INPUTS),
    )
    mill = await publish(w.offers, w.p1, offer("Mill", price=50, time=1))
    built = await w.systems.construct(w.user, requirement(task("a"), task("b"), task("d", "drilling")))
    plan = built["plan"]
    assert plan["status"] == "optimal" and plan["choice"]["a"]["offer_id"] == mill
    notes = {r["offer_id"]: r["note"] for r in plan["ranking"]["a"]}
    assert notes[mill] == "chosen" and notes[rich] == (
        "turned down by matching: price 1e+308 is more than 1e+12, beyond planning"
    )
    assert plan["choice"]["d"]["offer_id"] == huge and plan["choice"]["d"]["capacity"] == 5000
    assert plan["schedule"]["status"] == "optimal"
    await w.offers.move(w.p1, mill, "retired")
    none = (await w.systems.construct(w.user, requirement(task("a"))))["plan"]
    assert none["status"] == "infeasible"
    why = none["explanation"][0]
    assert (
        f"offer {slow}: time 1e+300 h is more than the 87,840 h (ten years) one execution may be planned for"
        in why
    )
    assert f"offer {endless}: time inf h is more than" in why
    assert f"offer {rich}: price 1e+308 is more than 1e+12, beyond planning" in why
    # called directly, the selection names such values instead of overflowing its sums
    req = parse_requirement(requirement(task("a"), task("b")))
    dear = Option("o", 1, "org", "o", 1.0, 1e308, 1.0, 1.0, 0.5)
    with pytest.raises(InvalidInput) as bad:
        select_plan(req, {"a": [dear], "b": [dear]})
    assert bad.value.extra["errors"] == ["options/a/0/cost: at most 1e+15", "options/b/0/cost: at most 1e+15"]


async def test_an_order_the_provider_refused_cannot_be_rated(ws: World) -> None:
    # was: the owner could rate a rejected attempt 1 star, punishing a refusal the platform itself does
    # not count against the provider
    w = ws
    _, system_id = await one_mill(w)
    spare = await publish(w.offers, w.p2, offer("Spare", price=80, time=2))
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    run = await view(w, run_id)
    await w.orders.move(w.p1, current(run, "mill")["order_id"], "rejected", "no time")
    run = await view(w, run_id)
    assert current(run, "mill")["offer_id"] == spare
    with pytest.raises(Conflict, match="did not take the work on"):
        await w.systems.views.rate(w.user, run_id, "mill", 1, attempt=1)
    # work taken on and then failed may be rated
    await work(w, w.p2, current(run, "mill")["order_id"], "failed")
    run = await view(w, run_id)
    assert run["status"] == "failed"
    rated = await w.systems.views.rate(w.user, run_id, "mill", 1, "broke it", attempt=2)
    assert rated["stars"] == 1 and rated["offer_id"] == spare


# runs: dispatch, races, restarts --------------------------------------------------------------
async def test_parallel_tasks_on_a_one_unit_offer_are_ordered_one_after_another(ws: World) -> None:
    # was: both orders were placed for the same hour, so the provider could accept only one (the
    # catalog refused the second as fully booked) although the schedule had them one after another
    w = ws
    await publish(w.offers, w.p1, offer("Only mill", price=10, time=1, cap=1))
    built = await w.systems.construct(w.user, {"name": "par", "graph": {"parallel": [task("a"), task("b")]}})
    run_id = await w.systems.runs.start_run(w.user, built["system"]["id"], seed=1)
    run = await view(w, run_id)
    a, b = current(run, "a"), current(run, "b")
    assert a["state"] == b["state"] == "dispatched"
    assert b["window_start"] == a["window_end"]
    for row in (a, b):
        await w.orders.move(w.p1, row["order_id"], "accepted")
    run = await view(w, run_id)
    assert run["status"] == "running" and {t["state"] for t in run["tasks"]} == {"dispatched"}


class SlowOrders:
    """Orders whose placing waits until released: lets two drivers overlap like two processes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def place(self, *args: Any, **kw: Any) -> Any:
        self.entered.set()
        await self.release.wait()
        return await self.inner.place(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_two_processes_dispatch_each_task_once(w: World) -> None:
    # was: a second process (the command line starting a run while the server's periodic round
    # settles it) read the same pending task, both placed an order, and the later write failed on the
    # task's state machine: one order was left behind, unknown to the run
    _, system_id = await one_mill(w)
    other = Systems(w.db, w.offers, w.orders, w.bus, sla_interval_s=3600.0, time_limit_s=5.0)
    slow = SlowOrders(w.orders)
    w.systems.runs.driver.orders = slow  # type: ignore[assignment]
    starting = asyncio.create_task(w.systems.runs.start_run(w.user, system_id, seed=1))
    await asyncio.wait_for(slow.entered.wait(), 10)
    async with w.db.transaction() as s:
        run_id = await s.scalar(select(ServiceRun.id))
    assert run_id is not None
    await other.runs.sync(run_id)  # the other process catches up meanwhile
    slow.release.set()
    await starting
    async with w.db.transaction() as s:
        orders = await s.scalar(select(func.count()).select_from(ServiceOrder))
    assert orders == 1
    run = await view(w, run_id)
    assert [t["state"] for t in run["tasks"]] == ["dispatched"]
    assert run["status"] == "running"


class SlowMoves:
    """Orders whose moves wait until released: holds a cancel between its two steps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def move(self, *args: Any, **kw: Any) -> Any:
        self.entered.set()
        await self.release.wait()
        return await self.inner.move(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_cancel_also_cancels_an_order_dispatched_meanwhile(ws: World) -> None:
    # was: while one process cancelled a run, another followed the first task's completion and ordered
    # the next; the cancel then marked that task cancelled and left its order open with the provider
    w = ws
    await publish(w.offers, w.p1, offer("Mill", price=50, time=1))
    built = await w.systems.construct(w.user, requirement(task("a"), task("b")))
    run_id = await w.systems.runs.start_run(w.user, built["system"]["id"], seed=1)
    first = current(await view(w, run_id), "a")["order_id"]
    await w.systems.stop()  # this process follows the run by hand from here on
    await work(w, w.p1, first)
    other = Systems(w.db, w.offers, w.orders, w.bus, sla_interval_s=3600.0, time_limit_s=5.0)
    slow = SlowMoves(w.orders)
    other.runs.driver.orders = slow  # type: ignore[assignment]
    cancel = asyncio.create_task(other.runs.cancel(w.user, run_id, "stop"))
    await asyncio.wait_for(slow.entered.wait(), 10)  # the cancel has read the run: a is in flight
    await w.systems.runs.sync(run_id)  # this process sees a done and orders b
    second = current(await w.systems.views.get(w.user, run_id), "b")["order_id"]
    assert second is not None
    slow.release.set()
    await cancel
    run = await w.systems.views.get(w.user, run_id)
    assert run["status"] == "cancelled"
    assert current(run, "a")["state"] == "compensated" and current(run, "b")["state"] == "cancelled"
    assert (await w.orders.get(w.user, second)).status == "cancelled"
    await w.systems.start()


async def test_a_restarted_platform_resumes_its_running_runs(ws: World) -> None:
    # checks that a run whose order moved while no platform was following catches up on start
    w = ws
    _, system_id = await one_mill(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    order_id = current(await view(w, run_id), "mill")["order_id"]
    await w.systems.stop()
    await work(w, w.p1, order_id)  # nobody follows the bus now
    assert current(await w.systems.views.get(w.user, run_id), "mill")["state"] == "dispatched"
    again = Systems(w.db, w.offers, w.orders, w.bus, sla_interval_s=3600.0, time_limit_s=5.0)
    await again.start()
    try:
        for _ in range(200):
            if (await again.views.get(w.user, run_id))["status"] == "completed":
                break
            await asyncio.sleep(0.02)
        assert (await again.views.get(w.user, run_id))["status"] == "completed"
    finally:
        await again.stop()
        await w.systems.start()


# resources -----------------------------------------------------------------------------------
async def test_solver_work_leaves_the_shared_threads_free(ws: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # was: every selection, schedule and forecast ran on the loop's default executor, which logins
    # (password hashing) and telemetry reads share: a burst of constructions of seconds each held all
    # of its threads, and a login waited for them
    w = ws
    await publish(w.offers, w.p1, offer("Mill", price=50, time=1))
    real = select_plan
    inside = 0
    loop = asyncio.get_running_loop()

    def slow_select(*args: Any, **kw: Any) -> Any:
        nonlocal inside
        inside += 1
        time.sleep(0.8)  # a solver holding its thread
        return real(*args, **kw)

    monkeypatch.setattr(service_module, "select_plan", slow_select)
    shared = min(32, (os.cpu_count() or 1) + 4)  # the default executor's threads
    builds = [
        asyncio.create_task(w.systems.construct(w.user, requirement(task("a"), name=f"s{i}")))
        for i in range(shared + 2)
    ]
    for _ in range(200):
        if inside:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    await loop.run_in_executor(None, lambda: None)
    waited = time.perf_counter() - began
    done = await asyncio.gather(*builds)
    assert all(d["plan"]["status"] == "optimal" for d in done)
    assert waited < 0.3, f"a job on the shared threads waited {waited:.2f} s behind the solvers"


def test_the_forecast_of_a_long_graph_simulates_fewer_runs() -> None:
    # was: 500 replications whatever the size: 2,000 executions each took 10 s of GIL-bound simulation
    # (and more than 4,000 were refused only after the selection and the schedule had run)
    long = parse_requirement(
        {"name": "x", "graph": {"loop": {"count": 1000, "do": {"sequence": [task("a"), task("b")]}}}}
    )
    short = parse_requirement(requirement(task("a"), task("b")))
    assert service_module.forecast_replications(short) == 500
    assert service_module.forecast_replications(long) == 100


# portal ----------------------------------------------------------------------------------------
async def test_portal_forms_refuse_deeply_nested_json_and_odd_numbers(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    # was: a requirement, choices or inputs nested a few thousand levels deep raised RecursionError in
    # the JSON reader (a 500 page), and a plan number past 2^63 in the address a 500 from the store
    from tests.portal.test_portal_http import _csrf
    from tests.portal.test_system_pages_http import GOOD_REQ, _as, _construct, _world

    w = await _world(ctx)
    await _as(client, w["user"])
    deep = "[" * 100_000 + "]" * 100_000
    page = await _construct(client, deep)
    assert page.status_code == 422 and "requirement: not JSON (nested too deeply)" in page.text
    made = await _construct(client, GOOD_REQ)
    plan_path = made.headers["location"]
    system_path = plan_path.rsplit("/plans/", 1)[0]
    token = await _csrf(client, plan_path)
    bad = await client.post(
        f"{system_path}/runs", data={"csrf_token": token, "choices": deep, "inputs": deep, "plan": "9" * 30}
    )
    assert bad.status_code == 422
    assert (
        "choices: not JSON (nested too deeply)" in bad.text
        and "inputs: not JSON (nested too deeply)" in bad.text
    )
    assert (await client.get(f"{system_path}/plans/{'9' * 30}")).status_code == 404
    bad = await client.post(f"{system_path}/runs", data={"csrf_token": token, "plan": "9" * 30})
    assert bad.status_code == 422 and "plan: a plan number from 1 to 1000000" in bad.text


def test_a_deadline_past_any_calendar_is_refused() -> None:
    # was: accepted, then starting a run computed its deadline as a date past year 9999 (OverflowError)
    assert problems_of(requirement(task("a"), deadline_h=1e308)) == [
        "constraints/deadline_h: more than 0 and at most 876000"
    ]
    assert parse_requirement(requirement(task("a"), deadline_h=876_000)).constraints.deadline_h == 876_000


async def test_a_provider_cannot_rate_or_vouch_for_its_own_work(ws: World) -> None:
    # was: an organisation that is user and provider ordered from itself, completed the work and rated
    # it 5 stars: its own runs raised its reputation above everyone else's
    w = ws
    both = await org(w.db, "Both Ways", Role.USER, Role.PROVIDER)
    own = await publish(w.offers, both, offer("Own mill", price=50, time=1))
    built = await w.systems.construct(both, requirement(task("mill")))
    run_id = await w.systems.runs.start_run(both, built["system"]["id"], seed=1)
    await w.systems.runs.drain()
    order = current(await w.systems.views.get(both, run_id), "mill")["order_id"]
    await work(w, both, order)
    await w.systems.runs.drain()
    assert (await w.systems.views.get(both, run_id))["status"] == "completed"
    with pytest.raises(Conflict, match="its own work"):
        await w.systems.views.rate(both, run_id, "mill", 5)
    standing = (await w.systems.reputations.offers([own]))[own]
    assert (standing.reputation, standing.executions) == (0.5, 0)
    assert (await w.systems.reputations.providers([both.org_id]))[both.org_id].reputation == 0.5
    # the delivery itself is still on the provider's record and in the forecast's history
    assert (await w.systems.reputations.histories([own]))[own].successes == 1


def test_the_command_line_names_a_deeply_nested_file(tmp_path: Path) -> None:
    # was: RecursionError from the JSON reader, a traceback instead of one line
    from typer.testing import CliRunner

    from iplus.app import build_asgi, build_context
    from iplus.cli.main import build_cli
    from tests.systems.test_cli import seed

    asyncio.run(seed(tmp_path / "var"))
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = CliRunner().invoke(
        build_cli(build_context, build_asgi),
        ["system", "plan", str(path), "--org", "Buyer"],
        env={"IPLUS_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "250"},
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is not JSON (nested too deeply)" in result.stderr


# the API answers odd bodies with problem+json listing the problems ------------------------------
async def test_odd_api_bodies_answer_422_with_every_problem(ctx: Context, client: httpx.AsyncClient) -> None:
    from tests.api.helpers import assert_problem, tenant

    await ctx.start()
    try:
        u = await tenant(ctx, client, "Buyer", ["user"])
        p = await tenant(ctx, client, "Mill", ["provider"])
        body = {"title": "m", "capability_type": "milling", "inputs": NO_INPUTS, "qos": qos(price=50, time=1)}
        offer_id = (await client.post("/api/v1/offers", headers=p.auth, json=body)).json()["id"]
        await client.post(f"/api/v1/offers/{offer_id}/stage", headers=p.auth, json={"stage": "published"})

        async def post(path: str, raw: str) -> httpx.Response:
            return await client.post(path, headers=u.auth | {"content-type": "application/json"}, content=raw)

        huge = '{"name":"x","graph":{"task":{"id":"a","capability":"milling"}},"weights":{"time":1e308,"cost":1e308}}'
        made = await post("/api/v1/systems", huge)
        assert made.status_code == 201, made.text
        system_id = made.json()["system"]["id"]
        bad = '{"name":"x\\u0000","graph":{"task":{"id":"a","capability":"milling"}},"constraints":{"deadline_h":1e308}}'
        assert assert_problem(await post("/api/v1/systems", bad), 422)["errors"] == [
            "name: no NUL characters",
            "constraints/deadline_h: more than 0 and at most 876000",
        ]
        assert_problem(
            await post(f"/api/v1/systems/{system_id}/runs", '{"plan": 99999999999999999999999}'), 422
        )
        errors = assert_problem(
            await post(f"/api/v1/systems/{system_id}/runs", '{"inputs": {"a": {"x": NaN}}}'), 422
        )["errors"]
        assert errors == ["inputs/a/x: numbers must be finite"]
        run = await post(f"/api/v1/systems/{system_id}/runs", "{}")
        assert run.status_code == 201, run.text
        rating = await post(
            f"/api/v1/runs/{run.json()['id']}/tasks/a/rating", '{"stars": 5, "attempt": 1e400}'
        )
        assert rating.status_code == 422
        rating = await post(
            f"/api/v1/runs/{run.json()['id']}/tasks/a/rating",
            '{"stars": 5, "attempt": 99999999999999999999999}',
        )
        assert assert_problem(rating, 422)["errors"] == ["attempt: an integer from 1 to 1000000"]
    finally:
        await ctx.stop()


async def test_concurrent_plans_of_one_system_are_numbered_in_turn(w: World) -> None:
    # was: on SQLite two plans read the same count and the second failed on the unique plan number
    _, system_id = await one_mill(w)
    made = await asyncio.gather(*[w.systems.replan(w.user, system_id) for _ in range(4)])
    assert sorted(m["plan"]["number"] for m in made) == [2, 3, 4, 5]
    assert (await w.systems.get(w.user, system_id))["plans"][-1]["number"] == 5


def test_a_timetable_past_any_calendar_is_infeasible_not_a_crash() -> None:
    # was: OverflowError building the timetable's dates: 2,000 executions of a ten-year offer in a row
    # (both within the platform's limits) end 20,000 years on; 1e15 h does so at once
    start = datetime(2030, 1, 1, tzinfo=UTC)
    loop = parse_requirement(
        {"name": "x", "graph": {"loop": {"count": 1000, "do": {"sequence": [task("a"), task("b")]}}}}
    )
    decade = Option("o", 1, "g", "t", 87_840.0, 1.0, 1.0, 1.0, 0.5)
    done = schedule(loop, {"a": decade, "b": decade}, {}, start=start, time_limit_s=2)
    assert done.status == "infeasible" and done.items == []
    assert done.reason == "the timetable would end after year 9999 (175,680,000 h of work one after another)"
    one = parse_requirement(requirement(task("a")))
    done = schedule(one, {"a": Option("o", 1, "g", "t", 1e15, 1.0, 1.0, 1.0, 0.5)}, {}, start=start)
    assert done.status == "infeasible" and "after year 9999" in str(done.reason)


async def test_a_cancel_reason_the_store_cannot_keep_is_named(ws: World) -> None:
    # was: a NUL in the reason reached the orders and the run (PostgreSQL refuses it, without a path)
    w = ws
    _, system_id = await one_mill(w)
    run_id = await w.systems.runs.start_run(w.user, system_id, seed=1)
    for reason in ("a\x00b", "x" * 2001):
        with pytest.raises(InvalidInput) as bad:
            await w.systems.runs.cancel(w.user, run_id, reason)
        assert bad.value.extra["errors"] == ["reason: a text of at most 2000 characters, no NUL"]
    assert (await view(w, run_id))["status"] == "running"
