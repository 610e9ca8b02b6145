"""Service systems over HTTP: construct, run, follow the provider's order moves, rate, report; problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.platform.context import Context
from tests.api.helpers import Tenant, assert_problem, tenant
from tests.catalog.helpers import qos
from tests.systems.helpers import NO_INPUTS, current, requirement, task


@dataclass
class World:
    ctx: Context
    c: httpx.AsyncClient
    tenants: dict[str, Tenant]

    async def t(self, name: str, role: str = "user") -> Tenant:
        """A tenant, created on first use (hashing passwords is the slow part of these tests)."""
        if name not in self.tenants:
            self.tenants[name] = await tenant(self.ctx, self.c, name, [role])
        return self.tenants[name]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    ctx = build_context(Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0"))
    await upgrade(ctx.db)
    await ctx.start()
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield World(ctx, c, {})
    await ctx.stop()


async def publish(w: World, who: Tenant, title: str, **q: Any) -> str:
    body = {"title": title, "capability_type": "milling", "inputs": NO_INPUTS, "qos": qos(**q)}
    r = await w.c.post("/api/v1/offers", headers=who.auth, json=body)
    assert r.status_code == 201, r.text
    offer_id: str = r.json()["id"]
    r = await w.c.post(f"/api/v1/offers/{offer_id}/stage", headers=who.auth, json={"stage": "published"})
    assert r.status_code == 200, r.text
    return offer_id


async def move(w: World, who: Tenant, order_id: str, *statuses: str) -> None:
    for to in statuses:
        r = await w.c.post(f"/api/v1/orders/{order_id}/status", headers=who.auth, json={"status": to})
        assert r.status_code == 200, r.text
    await w.ctx.systems.runs.drain()


async def test_bad_requirement_lists_every_problem(world: World) -> None:
    bad = {
        "name": "",
        "graph": {
            "sequence": [
                {"task": {"id": "Cut!", "capability": "milling"}},
                {"task": {"id": "a", "capability": "milling", "constraints": {"max_price": -1}}},
                {"task": {"id": "a", "capability": "milling"}},
                {"choice": [{"p": 0.5, "do": {"task": {"id": "b", "capability": "milling"}}}]},
                {"loop": {"count": 0, "do": {"task": {"id": "c", "capability": "milling"}}}},
            ]
        },
        "constraints": {"budget": 100},
        "weights": {"speed": 1},
    }
    u = await world.t("Buyer")
    r = await world.c.post("/api/v1/systems", headers=u.auth, json=bad)
    body = assert_problem(r, 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    wanted = [
        "name:",
        "graph/sequence/0/task/id:",
        "graph/sequence/1/task/constraints/max_price:",
        "graph/sequence/2/task/id:",
        "graph/sequence/3/choice:",
        "graph/sequence/4/loop/count:",
        "constraints/currency:",
        "weights/speed:",
    ]
    for prefix in wanted:
        assert sum(str(e).startswith(prefix) for e in errors) == 1, (prefix, errors)
    assert len(errors) == len(wanted)
    # a well-formed requirement naming an unknown capability
    r = await world.c.post(
        "/api/v1/systems", headers=u.auth, json=requirement(task("a"), task("b", "teleportation"))
    )
    assert assert_problem(r, 422)["errors"] == [
        "graph/sequence/1/task/capability: unknown capability type 'teleportation' (see GET /api/v1/taxonomy)"
    ]
    r = await world.c.post("/api/v1/systems", headers=u.auth, json=[1, 2])
    assert_problem(r, 422)
    r = await world.c.get("/api/v1/systems", headers=u.auth)
    assert r.json()["total"] == 0  # nothing stored half-way


async def test_construct_run_follow_rate_and_report(world: World) -> None:
    w = world
    p, q = await w.t("Mill Co", "provider"), await w.t("Other Mill", "provider")
    u, x, op = await w.t("Buyer"), await w.t("Bystander"), await w.t("Platform", "operator")
    good = await publish(w, p, "Good milling", price=50, time=1, rel=0.99)
    spare = await publish(w, q, "Spare milling", price=80, time=2, rel=0.9)
    r = await w.c.post(
        "/api/v1/systems",
        headers=u.auth,
        json=requirement(task("rough"), task("finish"), budget=500, currency="EUR", deadline_h=12),
    )
    assert r.status_code == 201, r.text
    built = r.json()
    plan, system_id = built["plan"], built["system"]["id"]
    assert plan["status"] == "optimal" and plan["number"] == 1
    assert {t: c["offer_id"] for t, c in plan["choice"].items()} == {"rough": good, "finish": good}
    assert plan["aggregate"]["cost"] == pytest.approx(100) and plan["aggregate"]["time"] == pytest.approx(2)
    assert [row["offer_id"] for row in plan["ranking"]["rough"]] == [good, spare]
    assert plan["schedule"]["status"] in ("optimal", "feasible") and plan["forecast"]["replications"] > 0

    assert (await w.c.get("/api/v1/systems", headers=u.auth)).json()["total"] == 1
    assert (await w.c.get(f"/api/v1/systems/{system_id}", headers=u.auth)).json()["plans"][0]["number"] == 1
    assert (await w.c.get(f"/api/v1/systems/{system_id}/plans/1", headers=u.auth)).json() == plan
    assert_problem(await w.c.get(f"/api/v1/systems/{system_id}", headers=x.auth), 404)
    assert_problem(await w.c.get(f"/api/v1/systems/{system_id}/plans/2", headers=u.auth), 404)

    r = await w.c.post(f"/api/v1/systems/{system_id}/runs", headers=u.auth, json={"seed": 3})
    assert r.status_code == 201, r.text
    run = r.json()
    run_id = run["id"]
    assert current(run, "rough")["state"] == "dispatched" and current(run, "finish")["state"] == "pending"
    assert_problem(await w.c.get(f"/api/v1/runs/{run_id}", headers=x.auth), 404)
    assert_problem(await w.c.post(f"/api/v1/runs/{run_id}/cancel", headers=x.auth), 404)

    # the provider works through the order in the catalog; the run follows through the bus
    await move(w, p, current(run, "rough")["order_id"], "accepted", "in_progress", "completed")
    run = (await w.c.get(f"/api/v1/runs/{run_id}", headers=u.auth)).json()
    assert current(run, "rough")["state"] == "done" and current(run, "finish")["state"] == "dispatched"
    await move(w, p, current(run, "finish")["order_id"], "accepted", "in_progress", "failed")
    run = (await w.c.get(f"/api/v1/runs/{run_id}", headers=u.auth)).json()
    assert current(run, "finish")["offer_id"] == spare and current(run, "finish")["attempt"] == 2
    await move(w, q, current(run, "finish")["order_id"], "accepted", "in_progress", "completed")
    run = (await w.c.get(f"/api/v1/runs/{run_id}", headers=u.auth)).json()
    assert run["status"] == "completed"
    listed = (await w.c.get("/api/v1/runs?status=completed", headers=u.auth)).json()
    assert [i["id"] for i in listed["items"]] == [run_id]

    rating = {"stars": 2, "comment": "late and broke down", "attempt": 1}
    r = await w.c.post(f"/api/v1/runs/{run_id}/tasks/finish/rating", headers=u.auth, json=rating)
    assert r.status_code == 201, r.text
    assert_problem(
        await w.c.post(f"/api/v1/runs/{run_id}/tasks/finish/rating", headers=u.auth, json=rating), 409
    )
    r = await w.c.post(
        f"/api/v1/runs/{run_id}/tasks/rough/rating", headers=u.auth, json={"stars": 9, "comment": 3}
    )
    assert assert_problem(r, 422)["errors"] == ["stars: an integer from 1 to 5", "comment: a text"]
    assert_problem(
        await w.c.post(f"/api/v1/runs/{run_id}/tasks/rough/rating", headers=p.auth, json={"stars": 5}), 403
    )

    rep = (await w.c.get(f"/api/v1/reputation/offers/{good}", headers=u.auth)).json()
    assert rep["offer"]["executions"] == 2 and rep["offer"]["successes"] == 1 and rep["offer"]["ratings"] == 1
    # one success, one failure, two stars (0.25, 0.75), all just now: (1.25 + 1) / (1.25 + 1.75 + 2)
    assert rep["offer"]["reputation"] == pytest.approx(2.25 / 5, abs=1e-6)

    report = (await w.c.get("/api/v1/reports/provider", headers=p.auth)).json()
    row = next(o for o in report["offers"] if o["offer_id"] == good)
    assert (row["executions"], row["successes"], row["ratings"], row["mean_stars"]) == (2, 1, 1, 2.0)
    assert row["mean_promised_time_h"] == pytest.approx(1.0) and row["mean_cost"] == pytest.approx(50)
    assert_problem(await w.c.get("/api/v1/reports/operator", headers=u.auth), 403)
    ops = (await w.c.get("/api/v1/reports/operator", headers=op.auth)).json()
    assert ops["running"] == [] and {p["org_id"] for p in ops["providers"]} == {p.org_id, q.org_id}
    # the provider sees the run through its tasks; the operator sees it whole
    assert (await w.c.get("/api/v1/runs", headers=q.auth)).json()["total"] == 1
    assert (await w.c.get(f"/api/v1/runs/{run_id}", headers=op.auth)).status_code == 200


async def test_infeasible_plan_explains_and_cannot_run(world: World) -> None:
    w = world
    p, q, u = await w.t("Mill Co", "provider"), await w.t("Other Mill", "provider"), await w.t("Buyer")
    await publish(w, p, "Dear milling", price=300, time=1)
    r = await w.c.post("/api/v1/systems", headers=u.auth, json=requirement(task("mill", max_price=100)))
    assert r.status_code == 201, r.text
    plan = r.json()["plan"]
    assert plan["status"] == "infeasible" and plan["choice"] == {}
    assert "task mill" in plan["explanation"][0] and "max_price (300.0 against 100" in plan["explanation"][0]
    system_id = r.json()["system"]["id"]
    body = assert_problem(await w.c.post(f"/api/v1/systems/{system_id}/runs", headers=u.auth, json={}), 409)
    assert "infeasible" in str(body["detail"])
    # a new offer appears: a new plan finds it
    await publish(w, q, "Cheap milling", price=60, time=1)
    r = await w.c.post(f"/api/v1/systems/{system_id}/plans", headers=u.auth)
    assert (
        r.status_code == 201 and r.json()["plan"]["number"] == 2 and r.json()["plan"]["status"] == "optimal"
    )
    r = await w.c.post(
        f"/api/v1/systems/{system_id}/runs",
        headers=u.auth,
        json={"choices": {"graph/choice": 0}, "seed": -1, "inputs": {"ghost": {}}, "slack": "x"},
    )
    errors = assert_problem(r, 422)["errors"]
    assert isinstance(errors, list) and len(errors) == 4
    assert [str(e).split(":")[0] for e in errors] == ["choices/graph/choice", "inputs/ghost", "slack", "seed"]
