"""Device registry and HTTP ingest: validation with reasons, idempotency, tenancy, queries, twin."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow.parquet as pq

from tests.access.conftest import ROOM_MODEL, Platform
from tests.api.helpers import assert_problem


async def test_thing_model_is_validated_against_the_tm_schema(platform: Platform) -> None:
    c, a = platform.client, platform.a
    bad = {**ROOM_MODEL, "@type": "Thing", "properties": {"x": {"type": "matrix"}, "y": "not an object"}}
    body = assert_problem(
        await c.post("/api/v1/device-types", headers=a.auth, json={"name": "bad", "thing_model": bad}), 422
    )
    text = " ".join(body["errors"])  # type: ignore[arg-type]
    assert "tm:ThingModel" in text and "properties/y" in text
    assert_problem(
        await c.post(
            "/api/v1/device-types", headers=a.auth, json={"name": "room", "thing_model": ROOM_MODEL}
        ),
        409,
    )


async def test_device_td_validates_against_the_td_schema(platform: Platform) -> None:
    from iplus.standards.wot import schema_errors

    await platform.device(platform.a, "room-1")
    td = (await platform.client.get("/api/v1/devices/room-1/td", headers=platform.a.auth)).json()
    assert schema_errors(td, "td") == []
    assert td["id"] == "urn:iplus:device:room-1" and set(td["actions"]) == {"setMode", "reboot"}


async def test_bulk_create_json_and_csv_with_tokens_shown_once(platform: Platform) -> None:
    c, a = platform.client, platform.a
    rows = ["type,name,id,tags,latitude,longitude"] + [
        f"room,Room {i},bulk-{i},floor{i % 3};hvac,{45 + i / 1000},{7 + i / 1000}" for i in range(2000)
    ]
    r = await c.post(
        "/api/v1/devices/bulk",
        headers={**a.auth, "content-type": "text/csv", "accept": "text/csv"},
        content="\n".join(rows),
    )
    assert r.status_code == 201, r.text
    creds = list(csv.DictReader(io.StringIO(r.text)))
    assert len(creds) == 2000 and len({x["token"] for x in creds}) == 2000
    assert all(x["token"].startswith("idt_") for x in creds)
    tagged = (await c.get("/api/v1/devices", headers=a.auth, params={"tag": "floor1", "limit": 1000})).json()
    assert len(tagged) == len([i for i in range(2000) if i % 3 == 1])
    # all or none: one bad row refuses the whole list
    body = {
        "devices": [
            {"type": "room", "id": "ok-1"},
            {"type": "nope", "id": "ok-2"},
            {"type": "room", "id": "bulk-1"},
        ]
    }
    problem = assert_problem(await c.post("/api/v1/devices/bulk", headers=a.auth, json=body), 422)
    assert "unknown device type 'nope'" in " ".join(problem["errors"])  # type: ignore[arg-type]
    assert_problem(await c.get("/api/v1/devices/ok-1", headers=a.auth), 404)
    listed = await c.get("/api/v1/devices/bulk-7", headers=a.auth)
    assert "token" not in listed.json()


async def test_device_token_ingest_validation_and_idempotency(platform: Platform) -> None:
    c, a = platform.client, platform.a
    token = await platform.device(a, "room-1")
    other = await platform.device(a, "room-2")
    dev = {"Authorization": f"Bearer {token}"}
    message = {
        "temp": 21.5,
        "hum": 40,
        "door": False,
        "mode": "eco",
        "ts": "2026-11-28T10:00:00Z",
        "msg_id": "m1",
    }
    ok = await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers=dev,
        json=message,
    )
    assert ok.json() == {"stored": 1, "duplicates": 0}
    again = await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers=dev,
        json=message,
    )
    assert again.json() == {"stored": 0, "duplicates": 1}
    bad = await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers=dev,
        json={"temp": 120, "hum": "wet", "colour": "red", "count": 1.5, "mode": "turbo", "door": 1},
    )
    body = assert_problem(bad, 422)
    reasons = body["errors"][0]["reasons"]  # type: ignore[index]
    assert any("temp: 120 is above the maximum 85" in x for x in reasons)
    assert any("hum: expected a number" in x for x in reasons)
    assert any("colour: unknown property" in x for x in reasons)
    assert any("count: expected an integer" in x for x in reasons)
    assert any("mode: 'turbo' is not one of" in x for x in reasons)
    assert any("door: expected true or false" in x for x in reasons)
    # another device's token, or a wrong one, is refused
    assert_problem(
        await c.post(
            "/api/v1/devices/room-1/telemetry", headers={"Authorization": f"Bearer {other}"}, json={"temp": 1}
        ),
        401,
    )
    assert_problem(
        await c.post(
            "/api/v1/devices/room-1/telemetry",
            headers={"Authorization": "Bearer idt_wrong"},
            json={"temp": 1},
        ),
        401,
    )
    rows = (await c.get("/api/v1/devices/room-1/telemetry", headers=a.auth)).json()
    assert sorted(r["key"] for r in rows) == [
        "door",
        "hum",
        "mode",
        "temp",
    ]  # the refused message left nothing


async def test_senml_ingest_checks_units(platform: Platform) -> None:
    c, a = platform.client, platform.a
    token = await platform.device(a, "room-1")
    pack = [
        {"bn": "room-1:", "bt": 1.7e9, "n": "temp", "u": "Cel", "v": 20.0},
        {"n": "temp", "t": 60, "v": 21.0},
        {"n": "hum", "v": 50},
    ]
    r = await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/senml+json"},
        content=orjson.dumps(pack),
    )
    assert r.json()["stored"] == 1
    temps = (await c.get("/api/v1/devices/room-1/telemetry", headers=a.auth, params={"keys": "temp"})).json()
    assert [(t["ts"], t["value"]) for t in temps] == [
        ("2023-11-14T22:13:20Z", 20.0),
        ("2023-11-14T22:14:20Z", 21.0),
    ]
    wrong = await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers={"Authorization": f"Bearer {token}"},
        content=orjson.dumps([{"n": "temp", "u": "K", "v": 290}]),
    )
    assert "unit K but the model says Cel" in assert_problem(wrong, 422)["errors"][0]["reasons"][0]  # type: ignore[index]


async def test_batch_ingest_is_all_or_nothing_and_tenant_scoped(platform: Platform) -> None:
    c, a, b = platform.client, platform.a, platform.b
    await platform.device(a, "a-1")
    await platform.device(b, "b-1")
    good = [
        {"device_id": "a-1", "msg_id": f"m{i}", "ts": 1_700_000_000 + i, "values": {"temp": 20 + i / 100}}
        for i in range(500)
    ]
    bad = [*good, {"device_id": "b-1", "values": {"temp": 1}}, {"device_id": "a-1", "values": {"temp": "x"}}]
    body = assert_problem(await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": bad}), 422)
    assert body["refused"] == 2 and [e["index"] for e in body["errors"]] == [500, 501]  # type: ignore[index]
    assert (await c.get("/api/v1/devices/a-1/telemetry", headers=a.auth)).json() == []
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": good})
    assert r.json() == {"stored": 500, "duplicates": 0}
    assert (await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": good[:10]})).json() == {
        "stored": 0,
        "duplicates": 10,
    }
    # b cannot read a's device, nor ingest to it
    assert_problem(await c.get("/api/v1/devices/a-1/telemetry", headers=b.auth), 404)
    assert (await c.get("/api/v1/telemetry/latest", headers=b.auth, params={"devices": "a-1"})).json() == []


async def test_queries_aggregates_and_exports(platform: Platform) -> None:
    c, a = platform.client, platform.a
    for d in ("q-1", "q-2"):
        await platform.device(a, d)
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    msgs = [
        {
            "device_id": d,
            "ts": (t0 + timedelta(minutes=m)).isoformat(),
            "values": {"temp": float(m % 60), "hum": 50},
        }
        for d in ("q-1", "q-2")
        for m in range(180)
    ]
    assert (await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": msgs})).json()[
        "stored"
    ] == 360
    rows = (
        await c.get(
            "/api/v1/telemetry/aggregate",
            headers=a.auth,
            params={
                "devices": "q-1,q-2",
                "keys": "temp",
                "bucket": 3600,
                "aggregates": "count,min,max,avg,first,last",
                "group": "true",
            },
        )
    ).json()
    assert [r["values"] for r in rows] == [
        {"count": 120, "min": 0.0, "max": 59.0, "avg": 29.5, "first": 0.0, "last": 59.0}
    ] * 3
    latest = {
        (r["device_id"], r["key"]): r["value"]
        for r in (await c.get("/api/v1/telemetry/latest", headers=a.auth)).json()
    }
    assert latest[("q-1", "temp")] == 59.0
    window = (
        await c.get(
            "/api/v1/devices/q-1/telemetry",
            headers=a.auth,
            params={"keys": "temp", "start": "2026-11-28T01:00:00Z", "end": "2026-11-28T01:10:00Z"},
        )
    ).json()
    assert [r["value"] for r in window] == [float(m) for m in range(10)]
    exported = await c.get(
        "/api/v1/telemetry/export", headers=a.auth, params={"format": "parquet", "devices": "q-2"}
    )
    table = pq.read_table(io.BytesIO(exported.content))
    assert table.num_rows == 360 and set(table.column("device_id").to_pylist()) == {"q-2"}
    as_csv = await c.get("/api/v1/telemetry/export", headers=a.auth, params={"format": "csv", "keys": "hum"})
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == 360
    assert_problem(
        await c.get("/api/v1/telemetry/aggregate", headers=a.auth, params={"aggregates": "median"}), 422
    )


async def test_twin_reported_desired_delta(platform: Platform) -> None:
    c, a = platform.client, platform.a
    token = await platform.device(a, "room-1")
    await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers={"Authorization": f"Bearer {token}"},
        json={"mode": "eco", "temp": 19},
    )
    state = (
        await c.put("/api/v1/devices/room-1/state/desired", headers=a.auth, json={"mode": "comfort"})
    ).json()
    assert state["reported"]["mode"]["value"] == "eco" and state["delta"] == {"mode": "comfort"}
    await c.post(
        "/api/v1/devices/room-1/telemetry",
        headers={"Authorization": f"Bearer {token}"},
        json={"mode": "comfort"},
    )
    state = (await c.get("/api/v1/devices/room-1/state", headers=a.auth)).json()
    assert state["delta"] == {} and state["desired"] == {"mode": "comfort"}
    assert_problem(
        await c.put("/api/v1/devices/room-1/state/desired", headers=a.auth, json={"mode": "turbo"}), 422
    )


async def test_sse_stream_carries_new_readings(platform: Platform) -> None:
    c, a = platform.client, platform.a
    token = await platform.device(a, "room-1")
    sub = platform.ctx.bus.subscribe(a.org_id, "room-1")
    await c.post(
        "/api/v1/devices/room-1/telemetry", headers={"Authorization": f"Bearer {token}"}, json={"temp": 22.0}
    )
    event = await asyncio.wait_for(sub.queue.get(), 2)
    assert event["type"] == "reading" and event["values"] == {"temp": 22.0}
    platform.ctx.bus.unsubscribe(sub)


async def test_retention_job_drops_old_readings_of_types_with_retention(platform: Platform) -> None:
    c, a, ctx = platform.client, platform.a, platform.ctx
    from tests.access.conftest import ROOM_MODEL

    r = await c.post(
        "/api/v1/device-types",
        headers=a.auth,
        json={"name": "short", "thing_model": ROOM_MODEL, "retention_days": 7},
    )
    assert r.status_code == 201
    await c.post("/api/v1/devices", headers=a.auth, json={"type": "short", "id": "s-1"})
    await platform.device(a, "keep-1")  # type without retention
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    new = datetime.now(UTC).isoformat()
    msgs = [{"device_id": d, "ts": t, "values": {"temp": 1.0}} for d in ("s-1", "keep-1") for t in (old, new)]
    assert (await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": msgs})).json()["stored"] == 4
    assert await ctx.apply_retention() == 1
    left = []
    for d in ("s-1", "keep-1"):
        left += [
            (r["device_id"], r["ts"][:10])
            for r in (await c.get(f"/api/v1/devices/{d}/telemetry", headers=a.auth)).json()
        ]
    left.sort()
    assert left == sorted([("s-1", new[:10]), ("keep-1", old[:10]), ("keep-1", new[:10])])
