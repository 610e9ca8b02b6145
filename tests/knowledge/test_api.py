"""Algorithms and knowledge over HTTP: listing, invoking, versions, attachments, tenancy, problem+json."""

from __future__ import annotations

import httpx

from iplus.platform.context import Context
from tests.access.conftest import ROOM_MODEL
from tests.api.helpers import assert_problem, tenant


async def test_algorithms_list_describe_and_invoke(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    listed = (await client.get("/api/v1/algorithms", headers=t.auth)).json()
    ids = {a["id"] for a in listed}
    assert {"queueing.mmc", "queueing.erlang_b", "reliability.availability"} <= ids
    mmc = (await client.get("/api/v1/algorithms/queueing.mmc", headers=t.auth)).json()
    assert mmc["inputs"]["properties"]["arrival_rate"]["unit"] == "/h"
    assert mmc["versions"] == ["1.0.0"]
    assert [
        a["id"] for a in (await client.get("/api/v1/algorithms?tag=reliability", headers=t.auth)).json()
    ] == ["reliability.availability"]
    r = await client.post(
        "/api/v1/algorithms/queueing.mmc/invoke",
        headers=t.auth,
        json={"arrival_rate": 3, "service_rate": 4, "servers": 1},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "1.0.0"
    assert abs(r.json()["outputs"]["mean_in_system"] - 3.0) < 1e-9  # rho/(1-rho) with rho = 0.75


async def test_algorithm_errors_are_problems(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    bad = await client.post("/api/v1/algorithms/queueing.mmc/invoke", headers=t.auth, json={"servers": 0})
    body = assert_problem(bad, 422)
    assert any("arrival_rate" in e for e in body["errors"])  # type: ignore[union-attr]
    assert any("/servers" in e for e in body["errors"])  # type: ignore[union-attr]
    unstable = await client.post(
        "/api/v1/algorithms/queueing.mmc/invoke",
        headers=t.auth,
        json={"arrival_rate": 9, "service_rate": 1, "servers": 3},
    )
    assert "unstable" in str(assert_problem(unstable, 422)["detail"])
    assert_problem(await client.post("/api/v1/algorithms/queueing.mmc/invoke", headers=t.auth, json=[1]), 422)
    assert_problem(await client.get("/api/v1/algorithms/no.such", headers=t.auth), 404)
    assert_problem(await client.get("/api/v1/algorithms/queueing.mmc?version=9.9.9", headers=t.auth), 404)
    assert_problem(await client.get("/api/v1/algorithms"), 401)


async def test_knowledge_life_cycle_with_attachments_and_tenancy(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    a = await tenant(ctx, client, "Acme", ["user"])
    b = await tenant(ctx, client, "Other", ["user"])
    kind = await client.post(
        "/api/v1/device-types", headers=a.auth, json={"name": "room", "thing_model": ROOM_MODEL}
    )
    type_id = kind.json()["id"]
    rule = {
        "kind": "rule",
        "title": "Overheating room",
        "content": {
            "when": "temp > 30 for 10 min",
            "then": "open the window, alarm major",
            "confidence": 0.9,
        },
        "tags": ["Comfort", "hvac"],
        "attachments": [{"kind": "device_type", "id": type_id}, {"kind": "algorithm", "id": "queueing.mmc"}],
    }
    created = await client.post("/api/v1/knowledge", headers=a.auth, json=rule)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["version"] == 1 and item["tags"] == ["comfort", "hvac"]
    doc = await client.post(
        "/api/v1/knowledge",
        headers=a.auth,
        json={
            "kind": "document",
            "title": "Room sensor manual",
            "body": "# Mounting\nAt 1.5 m, away from sun.",
        },
    )
    assert doc.status_code == 201

    by_type = (
        await client.get(f"/api/v1/knowledge?attached_kind=device_type&attached_id={type_id}", headers=a.auth)
    ).json()
    assert [i["id"] for i in by_type["items"]] == [item["id"]] and by_type["total"] == 1
    assert (await client.get("/api/v1/knowledge?q=MOUNTING", headers=a.auth)).json()["total"] == 1
    assert (await client.get("/api/v1/knowledge?tag=hvac", headers=a.auth)).json()["total"] == 1
    assert (await client.get("/api/v1/knowledge?tag=hv", headers=a.auth)).json()["total"] == 0
    assert (await client.get("/api/v1/knowledge?kind=document", headers=a.auth)).json()["total"] == 1

    # a new version; a stale one is refused
    changed = {**rule, "title": "Overheating room (revised)", "version": 1, "attachments": []}
    r = await client.put(f"/api/v1/knowledge/{item['id']}", headers=a.auth, json=changed)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["attachments"] == []
    assert_problem(await client.put(f"/api/v1/knowledge/{item['id']}", headers=a.auth, json=changed), 409)
    revisions = (await client.get(f"/api/v1/knowledge/{item['id']}/revisions", headers=a.auth)).json()
    assert [(v["version"], v["title"]) for v in revisions] == [
        (1, "Overheating room"),
        (2, "Overheating room (revised)"),
    ]
    assert len(revisions[0]["attachments"]) == 2

    # another organisation sees none of it and cannot attach to this one's type
    assert_problem(await client.get(f"/api/v1/knowledge/{item['id']}", headers=b.auth), 404)
    assert (await client.get("/api/v1/knowledge", headers=b.auth)).json()["total"] == 0
    stolen = await client.post(
        "/api/v1/knowledge",
        headers=b.auth,
        json={**rule, "attachments": [{"kind": "device_type", "id": type_id}]},
    )
    assert any("not found" in e for e in assert_problem(stolen, 422)["errors"])  # type: ignore[union-attr]
    assert_problem(await client.delete(f"/api/v1/knowledge/{item['id']}", headers=b.auth), 404)

    assert (await client.delete(f"/api/v1/knowledge/{item['id']}", headers=a.auth)).status_code == 204
    assert_problem(await client.get(f"/api/v1/knowledge/{item['id']}/revisions", headers=a.auth), 404)


async def test_bad_knowledge_items_list_every_problem(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    r = await client.post(
        "/api/v1/knowledge",
        headers=t.auth,
        json={
            "kind": "rule",
            "title": "x",
            "content": {"when": "", "confidence": 3},
            "tags": ["Not A Tag!"],
            "attachments": [{"kind": "spaceship", "id": "1"}, {"kind": "algorithm", "id": "no.such"}],
        },
    )
    errors = assert_problem(r, 422)["errors"]
    assert isinstance(errors, list)
    for expected in ("content/when", "content/then", "content/confidence", "tags:", "spaceship", "no.such"):
        assert any(expected in e for e in errors), (expected, errors)
    empty_doc = await client.post(
        "/api/v1/knowledge", headers=t.auth, json={"kind": "document", "title": "x"}
    )
    assert any("body" in e for e in assert_problem(empty_doc, 422)["errors"])  # type: ignore[union-attr]
    assert_problem(
        await client.post("/api/v1/knowledge", headers=t.auth, json={"kind": "poem", "title": "x"}), 422
    )


async def test_content_that_could_not_be_answered_as_given_is_refused(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    t = await tenant(ctx, client, "Acme", ["user"])
    headers = {**t.auth, "content-type": "application/json"}
    nan = '{"kind": "rule", "title": "x", "content": {"when": "a", "then": "b", "limit": NaN}}'
    errors = assert_problem(await client.post("/api/v1/knowledge", headers=headers, content=nan), 422)[
        "errors"
    ]
    assert errors == ["content/limit: numbers must be finite"]
    deep = (
        '{"kind": "rule", "title": "x", "content": {"when": "a", "then": "b", "x": '
        + "[" * 40
        + "]" * 40
        + "}}"
    )
    body = assert_problem(await client.post("/api/v1/knowledge", headers=headers, content=deep), 422)
    assert any("nested deeper than 32 levels" in e for e in body["errors"])  # type: ignore[union-attr]
    assert (await client.get("/api/v1/knowledge", headers=t.auth)).json()["total"] == 0
