"""Rules and alarms over the API on a started platform: HTTP telemetry in, alarms out, no restart."""

from __future__ import annotations

import httpx

from tests.access.conftest import Platform
from tests.api.helpers import Tenant, assert_problem

HOT_YAML = """
name: hot
kind: threshold
key: temp
op: ">"
value: 30
clear: 28
severity: critical
"""
YAML = {"Content-Type": "application/yaml"}


async def push(p: Platform, device: str, token: str, temp: float, t: str) -> None:
    r = await p.client.post(
        f"/api/v1/devices/{device}/telemetry",
        headers={"Authorization": f"Bearer {token}"},
        json={"temp": temp, "ts": t},
    )
    assert r.status_code == 200, r.text
    await p.ctx.rules.drain()


async def alarms(client: httpx.AsyncClient, t: Tenant, **params: str) -> dict:  # type: ignore[type-arg]
    r = await client.get("/api/v1/alarms", headers=t.auth, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_rule_from_yaml_raises_alarm_from_http_telemetry_then_ack_and_clear(platform: Platform) -> None:
    p, a = platform, platform.a
    token = await p.device(a, "room-1")
    r = await p.client.post("/api/v1/rules", headers={**a.auth, **YAML}, content=HOT_YAML)
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["version"] == 1 and rule["kind"] == "threshold" and rule["definition"]["clear"] == 28
    sub = p.ctx.bus.subscribe(a.org_id)
    await push(p, "room-1", token, 25, "2026-01-01T00:00:00Z")
    await push(p, "room-1", token, 31.5, "2026-01-01T00:00:01Z")
    body = await alarms(p.client, a, status="active")
    assert body["total"] == 1
    [alarm] = body["items"]
    assert (alarm["rule"], alarm["subject"], alarm["severity"], alarm["status"]) == (
        "hot",
        "room-1",
        "critical",
        "raised",
    )
    assert alarm["value"] == 31.5 and alarm["raised_at"].startswith("2026-01-01T00:00:01")
    events = []
    while not sub.queue.empty():
        events.append(sub.queue.get_nowait())
    assert any(e["type"] == "alarm" and e["change"] == "raised" and e["id"] == alarm["id"] for e in events)
    # the other tenant sees nothing and cannot acknowledge it
    assert (await alarms(p.client, p.b))["total"] == 0
    assert_problem(await p.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=p.b.auth), 404)

    acked = await p.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=a.auth)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    cleared = await p.client.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=a.auth)
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    assert_problem(await p.client.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=a.auth), 409)
    # cleared by hand while still hot: the rule raises a new alarm on the next hot reading
    await push(p, "room-1", token, 32, "2026-01-01T00:00:02Z")
    assert (await alarms(p.client, a, status="raised"))["total"] == 1
    # and hysteresis clears it only below 28
    await push(p, "room-1", token, 29, "2026-01-01T00:00:03Z")
    assert (await alarms(p.client, a, status="active"))["total"] == 1
    await push(p, "room-1", token, 27, "2026-01-01T00:00:04Z")
    assert (await alarms(p.client, a, status="active"))["total"] == 0
    assert (await alarms(p.client, a, status="cleared", device="room-1", rule="hot"))["total"] == 2


async def test_rule_change_takes_effect_without_restart_and_is_versioned(platform: Platform) -> None:
    p, a = platform, platform.a
    token = await p.device(a, "room-1")
    rule = (await p.client.post("/api/v1/rules", headers={**a.auth, **YAML}, content=HOT_YAML)).json()
    await push(p, "room-1", token, 26, "2026-01-01T00:00:00Z")
    assert (await alarms(p.client, a))["total"] == 0
    changed = HOT_YAML.replace("value: 30", "value: 25").replace("clear: 28", "clear: 20")
    r = await p.client.put(f"/api/v1/rules/{rule['id']}", headers={**a.auth, **YAML}, content=changed)
    assert r.status_code == 200 and r.json()["version"] == 2
    await push(p, "room-1", token, 26, "2026-01-01T00:00:01Z")
    assert (await alarms(p.client, a, status="active"))["total"] == 1
    versions = (await p.client.get(f"/api/v1/rules/{rule['id']}/versions", headers=a.auth)).json()
    assert [(v["version"], v["definition"]["value"]) for v in versions] == [(2, 25.0), (1, 30.0)]
    # apply by name (JSON list): unchanged stays at its version, a new one is created
    r = await p.client.put(
        "/api/v1/rules",
        headers=a.auth,
        json=[
            {
                "name": "hot",
                "kind": "threshold",
                "key": "temp",
                "op": ">",
                "value": 25,
                "clear": 20,
                "severity": "critical",
            },
            {"name": "cold", "kind": "threshold", "key": "temp", "op": "<", "value": 5},
        ],
    )
    assert r.status_code == 200, r.text
    assert [(x["name"], x["change"], x["version"]) for x in r.json()] == [
        ("hot", "unchanged", 2),
        ("cold", "created", 1),
    ]
    # deleting the rule stops it and clears its alarm
    assert (await p.client.delete(f"/api/v1/rules/{rule['id']}", headers=a.auth)).status_code == 204
    assert (await alarms(p.client, a, status="active"))["total"] == 0
    await push(p, "room-1", token, 40, "2026-01-01T00:00:02Z")
    assert (await alarms(p.client, a, status="active"))["total"] == 0
    assert [x["name"] for x in (await p.client.get("/api/v1/rules", headers=a.auth)).json()] == ["cold"]
    assert_problem(await p.client.get(f"/api/v1/rules/{rule['id']}", headers=a.auth), 404)


async def test_invalid_rules_are_refused_with_every_problem_listed(platform: Platform) -> None:
    p, a = platform, platform.a
    bad = """
rules:
  - name: hot
    kind: threshold
    key: temp
    op: "=>"
    value: thirty
  - name: w
    kind: window
    key: temp
    window: sliding
    size_s: 10
    aggregate: median
    op: ">"
    value: 1
  - name: t
    kind: threshold
    key: temp
    op: ">"
    value: 1
    where: {type: no-such-type}
"""
    r = await p.client.put("/api/v1/rules", headers={**a.auth, **YAML}, content=bad)
    body = assert_problem(r, 422)
    errors: list[dict[str, str]] = body["errors"]  # type: ignore[assignment]
    paths = {e["path"] for e in errors}
    assert {"rules[0].op", "rules[0].value", "rules[1].aggregate"} <= paths
    assert "rules[0].op" in str(body["detail"])
    r = await p.client.post("/api/v1/rules/validate", headers={**a.auth, **YAML}, content=bad)
    assert r.status_code == 200 and r.json()["valid"] is False and len(r.json()["problems"]) >= 3
    # context problems come once the document itself is well formed
    bad_type = "{name: t, kind: threshold, key: temp, op: '>', value: 1, where: {type: nope}}"
    r = await p.client.post("/api/v1/rules/validate", headers={**a.auth, **YAML}, content=bad_type)
    assert r.json()["problems"] == [
        {"path": "where.type", "message": "no device type 'nope' in this organisation"}
    ]
    as_json = {**a.auth, "Content-Type": "application/json"}
    body = assert_problem(await p.client.post("/api/v1/rules", headers=as_json, content=b"{not json"), 422)
    assert "not valid JSON" in str(body["detail"])
    body = assert_problem(
        await p.client.post("/api/v1/rules", headers={**a.auth, **YAML}, content=b"a: [1"), 422
    )
    assert body["errors"][0]["message"].startswith("not valid YAML") and "line 1" in str(body["detail"])  # type: ignore[index]
    hysteresis = {"name": "h", "kind": "threshold", "key": "temp", "op": ">", "value": 30, "clear": 31}
    body = assert_problem(await p.client.post("/api/v1/rules", headers=a.auth, json=hysteresis), 422)
    assert body["errors"] == [
        {"path": "clear", "message": "with > the clear value must not be above value (30.0)"}
    ]
    anomaly = {"name": "x", "kind": "anomaly", "key": "temp", "model": "no-such-model", "threshold": 0.8}
    body = assert_problem(await p.client.post("/api/v1/rules", headers=a.auth, json=anomaly), 422)
    assert body["errors"][0]["path"] == "model"  # type: ignore[index]
    ok = await p.client.post("/api/v1/rules/validate", headers={**a.auth, **YAML}, content=HOT_YAML)
    assert ok.json() == {"valid": True, "problems": []}
    assert (await p.client.get("/api/v1/rules", headers=a.auth)).json() == []  # nothing stored half-way
    # a duplicate name is a conflict; reading rules needs credentials
    assert (
        await p.client.post("/api/v1/rules", headers={**a.auth, **YAML}, content=HOT_YAML)
    ).status_code == 201
    assert_problem(await p.client.post("/api/v1/rules", headers={**a.auth, **YAML}, content=HOT_YAML), 409)
    assert_problem(await p.client.get("/api/v1/rules"), 401)
