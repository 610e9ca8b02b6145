"""Simulation API: scenario schemas, runs and sweeps in the background, what-if from twins, compare, errors."""

from __future__ import annotations

from typing import Any

import httpx

from iplus.core.clock import utcnow
from iplus.infra.telemetry import Message, to_us
from iplus.platform.context import Context
from tests.api.helpers import assert_problem, tenant
from tests.sim_engine.runs import finished

CHARGER_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "EV charger",
    "properties": {
        "occupied": {"type": "boolean", "readOnly": True},
        "soc": {"type": "number", "unit": "%", "minimum": 0, "maximum": 100, "readOnly": True},
    },
}


async def test_scenarios_list_every_kind_with_its_schema(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    r = await client.get("/api/v1/simulation/scenarios", headers=t.auth)
    assert r.status_code == 200
    kinds = {k["kind"]: k for k in r.json()}
    assert set(kinds) >= {
        "queueing_station",
        "queueing_network",
        "production_line",
        "ev_charging",
        "signalised_intersection",
        # the domains' own kinds, registered at start
        "agriculture.irrigation_season",
        "environment.episode_control",
        "health.escalation_response",
    }
    rate = kinds["queueing_station"]["parameters"]["properties"]["arrival_rate"]
    assert rate["unit"] == "1/min" and rate["exclusiveMinimum"] == 0 and rate["default"] == 0.8
    assert_problem(await client.get("/api/v1/simulation/scenarios"), 401)


async def test_invalid_parameters_are_a_422_with_every_reason(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    body = {"kind": "queueing_station", "params": {"arrival_rate": 0, "servers": 0, "speed": 3}}
    problem = assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=body), 422)
    params = {e["param"] for e in problem["errors"]}  # type: ignore[attr-defined]
    assert params == {"arrival_rate", "servers", "speed"}
    assert "arrival_rate: must be > 0" in str(problem["detail"])
    problem = assert_problem(
        await client.post("/api/v1/simulation/runs", headers=t.auth, json={"kind": "warp_drive"}), 422
    )
    assert "unknown scenario kind" in str(problem["detail"])
    bad_sweep = {"kind": "queueing_station", "sweep": {"servers": [1, -1]}}
    assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=bad_sweep), 422)
    assert_problem(
        await client.post(
            "/api/v1/simulation/runs", headers=t.auth, json={"kind": "ev_charging", "replications": 0}
        ),
        422,
    )
    # nothing was stored for the refused requests
    assert (await client.get("/api/v1/simulation/runs", headers=t.auth)).json() == []


async def test_sweep_runs_in_the_background_and_is_stored_compared_and_private(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    a = await tenant(ctx, client, "Acme", ["user"])
    b = await tenant(ctx, client, "Other", ["user"])
    body = {
        "kind": "queueing_station",
        "name": "servers sweep",
        "seed": 3,
        "replications": 2,
        "params": {"arrival_rate": 1.5, "horizon": 1000.0, "warmup": 50.0},
        "sweep": {"servers": [2, 3]},
    }
    r = await client.post("/api/v1/simulation/runs", headers=a.auth, json=body)
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["total"] == 4 and run["status"] in {"queued", "running", "succeeded"}
    done = await finished(client, a.auth, run["id"])
    assert done["status"] == "succeeded" and done["done"] == done["total"] == 4
    first, second = done["results"]
    assert [first["params"]["servers"], second["params"]["servers"]] == [2, 3]
    # more servers, less waiting
    assert second["kpis"]["mean_wait"]["mean"] < first["kpis"]["mean_wait"]["mean"]
    assert len(first["replications"]) == 2 and len(first["series"]["t"]) == 200
    assert first["kpis"]["utilisation"]["ci95"] is not None
    other = await client.post(
        "/api/v1/simulation/runs",
        headers=a.auth,
        json={
            "kind": "queueing_station",
            "params": {"arrival_rate": 1.5, "servers": 4, "horizon": 1000.0, "warmup": 50.0},
            "seed": 3,
        },
    )
    await finished(client, a.auth, other.json()["id"])
    listed = (await client.get("/api/v1/simulation/runs", headers=a.auth)).json()
    assert [x["id"] for x in listed] == [other.json()["id"], run["id"]]
    cmp = await client.get(
        "/api/v1/simulation/compare", headers=a.auth, params={"ids": f"{run['id']},{other.json()['id']}"}
    )
    assert cmp.status_code == 200, cmp.text
    rows = {row["kpi"]: row["values"] for row in cmp.json()["kpis"]}
    assert rows["utilisation"][0] > rows["utilisation"][1]  # 2 servers busier than 4 at the same load
    # the other tenant sees nothing
    assert_problem(await client.get(f"/api/v1/simulation/runs/{run['id']}", headers=b.auth), 404)
    assert (await client.get("/api/v1/simulation/runs", headers=b.auth)).json() == []
    assert_problem(
        await client.get(
            "/api/v1/simulation/compare", headers=b.auth, params={"ids": f"{run['id']},{other.json()['id']}"}
        ),
        404,
    )
    assert_problem(
        await client.get("/api/v1/simulation/compare", headers=a.auth, params={"ids": run["id"]}), 422
    )


async def test_what_if_starts_from_the_chargers_twins(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    await ctx.telemetry.open()
    kind = await client.post(
        "/api/v1/device-types", headers=t.auth, json={"name": "charger", "thing_model": CHARGER_MODEL}
    )
    assert kind.status_code == 201, kind.text
    now = to_us(utcnow())
    reported = {"c1": (True, 20.0), "c2": (True, 45.0), "c3": (False, 0.0)}
    for device_id, (occupied, soc) in reported.items():
        r = await client.post("/api/v1/devices", headers=t.auth, json={"type": "charger", "id": device_id})
        assert r.status_code == 201, r.text
        await ctx.telemetry.append(
            [
                Message(
                    t.org_id,
                    kind.json()["id"],
                    device_id,
                    None,
                    [("occupied", now, occupied), ("soc", now, soc)],
                )
            ]
        )
    body = {
        "kind": "ev_charging",
        "params": {"horizon": 5.0, "warmup": 0.0, "arrival_rate": 1e-6},
        "device_ids": ["c1", "c2", "c3"],
        "initial_state": {"queue_length": 1},
    }
    r = await client.post("/api/v1/simulation/runs", headers=t.auth, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["initial_state"] == {"chargers_occupied": [0.2, 0.45], "queue_length": 1}
    done = await finished(client, t.auth, r.json()["id"])
    series = done["results"][0]["series"]
    assert series["occupied"][0] == 3 and series["waiting"][0] == 0  # the waiting car took the free charger
    # at 50 kW to 80% of 60 kWh: c2 (45%) is done at 0.42 h, c1 (20%) at 0.72 h, the queued car (10-50%)
    # between 0.36 h and 0.84 h; nobody else comes
    at = list(zip(series["t"], series["occupied"], strict=True))
    assert all(v == 3 for t, v in at if t < 0.35)
    assert all(v <= 2 for t, v in at if 0.43 <= t < 0.7)
    assert all(v == 0 for t, v in at if t >= 0.85)
    missing = {**body, "device_ids": ["c1", "nope"]}
    assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=missing), 404)
