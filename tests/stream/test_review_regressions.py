"""Regressions found in review: webhook SSRF, MQTT topics across tenants, rule-document bombs, tenancy."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiomqtt
import pytest

from iplus.core.errors import InvalidInput
from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.egress import EgressPolicy
from iplus.engines.stream.evaluators import DerivedEval
from iplus.engines.stream.expr import compile_expression
from iplus.engines.stream.model import WebhookAction, check_document, load_document, parse_rules
from tests.access.conftest import Platform
from tests.api.helpers import assert_problem
from tests.stream.test_actions import Hook, hook
from tests.stream.test_api import push

__all__ = ["hook"]
ALARM: dict[str, Any] = {"id": "a1", "rule": "hot", "subject": "room-1", "status": "raised"}


def hot_rule(**extra: Any) -> dict[str, Any]:
    return {"name": "hot", "kind": "threshold", "key": "temp", "op": ">", "value": 30, **extra}


# --- webhooks: no server-side request forgery by default --------------------------------------------


async def test_webhook_to_loopback_or_metadata_address_is_refused_when_saved(
    platform: Platform, hook: Hook
) -> None:
    p, a = platform, platform.a
    port = hook.server.server_address[1]
    for url in (
        hook.url,
        f"http://localhost:{port}/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
    ):
        rule = hot_rule(actions=[{"type": "webhook", "url": url}])
        body = assert_problem(await p.client.post("/api/v1/rules", headers=a.auth, json=rule), 422)
        assert [e["path"] for e in body["errors"]] == ["actions[0].url"], (url, body)  # type: ignore[attr-defined]
    assert (await p.client.get("/api/v1/rules", headers=a.auth)).json() == []


@pytest.mark.parametrize("host", ["127.1", "[::ffff:127.0.0.1]", "localhost", "0.0.0.0"])
async def test_webhook_is_checked_again_when_sent_so_names_cannot_reach_loopback(
    hook: Hook, host: str
) -> None:
    # names and spellings the save-time check cannot see through resolve to loopback when sent
    url = f"http://{host}:{hook.server.server_address[1]}/hook"
    outcome = await ActionRunner().run("org", WebhookAction(type="webhook", url=url, retries=2), ALARM)
    assert not outcome.ok and "not allowed" in outcome.detail, outcome
    assert hook.attempts == 0


async def test_webhook_to_an_explicitly_allowed_loopback_server_is_sent(hook: Hook) -> None:
    runner = ActionRunner(egress=EgressPolicy.parse("public, 127.0.0.0/8"))
    outcome = await runner.run("org", WebhookAction(type="webhook", url=hook.url), ALARM)
    assert outcome.ok, outcome
    assert hook.attempts == 2 and hook.bodies[0]["subject"] == "room-1"


def test_egress_policy_parsing() -> None:
    policy = EgressPolicy.parse(" public , 10.1.0.0/16, Hooks.Internal ")
    assert policy.allows("hooks.internal", "10.9.9.9") and policy.allows("x", "10.1.2.3")
    assert policy.allows("x", "93.184.215.14") and not policy.allows("x", "10.9.9.9")
    assert not policy.allows("x", "127.0.0.1") and not policy.allows("x", "::ffff:10.9.9.9")
    assert policy.allows("x", "::ffff:10.1.0.1")
    nothing = EgressPolicy.parse("")
    assert not nothing.allows("x", "93.184.215.14")
    with pytest.raises(ValueError):
        EgressPolicy.parse("public, not a host!")


# --- MQTT actions publish inside the organisation's own namespace ------------------------------------


async def test_mqtt_action_cannot_publish_on_another_organisations_device(platform: Platform) -> None:
    p, a, b = platform, platform.a, platform.b
    token_a = await p.device(a, "room-1")
    token_b = await p.device(b, "victim-1")
    host, port = p.ctx.broker.address
    victim = "iplus/v1/devices/victim-1/commands"
    rule = hot_rule(actions=[{"type": "mqtt", "topic": victim}])
    assert (await p.client.post("/api/v1/rules", headers=a.auth, json=rule)).status_code == 201
    async with (
        aiomqtt.Client(host, port, username="victim-1", password=token_b, identifier="victim-1-t") as device,
        aiomqtt.Client(
            host, port, username=p.ctx.mqtt.username, password=p.ctx.mqtt.password, identifier="ops"
        ) as listener,
    ):
        await device.subscribe(victim, qos=1)
        await listener.subscribe(f"iplus/v1/orgs/{a.org_id}/alarms/#", qos=1)
        await push(p, "room-1", token_a, 35, "2026-01-01T00:00:00Z")

        async def first(client: aiomqtt.Client) -> tuple[str, Any]:
            async for message in client.messages:
                return message.topic.value, json.loads(message.payload)
            raise AssertionError("no message")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first(device), 0.5)
        topic, published = await asyncio.wait_for(first(listener), 5)
        assert topic == f"iplus/v1/orgs/{a.org_id}/alarms/{victim}" and published["rule"] == "hot"


# --- rule documents that cost too much -----------------------------------------------------------


def test_yaml_alias_bomb_is_refused_before_it_is_expanded() -> None:
    levels = "\n".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9))
    bomb = f"""
l0: &l0 [x, x, x, x, x, x, x, x, x, x]
{levels}
rules:
  - name: hot
    kind: threshold
    key: temp
    op: ">"
    value: 30
    actions: [{{type: command, action: setMode, input: *l8}}]
"""
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="alias"):
        check_document(load_document(bomb, "application/yaml"))
    assert time.perf_counter() - started < 1
    # anchors and aliases of a sensible size still work
    shared = "where: &w {tags: [floor1]}\nrules:\n" + "".join(
        f"  - {{name: r{i}, kind: threshold, key: temp, op: '>', value: 1, where: *w}}\n" for i in range(3)
    )
    assert [r.where.tags for r in parse_rules(shared)] == [["floor1"]] * 3


async def test_deeply_nested_documents_are_a_422_not_a_500(platform: Platform) -> None:
    p, a = platform, platform.a
    for content_type, text in (("application/json", "[" * 100_000), ("application/yaml", "[" * 100_000)):
        r = await p.client.post(
            "/api/v1/rules", headers={**a.auth, "Content-Type": content_type}, content=text
        )
        assert_problem(r, 422)
        r = await p.client.post(
            "/api/v1/rules/validate", headers={**a.auth, "Content-Type": content_type}, content=text
        )
        assert r.status_code == 200 and r.json()["valid"] is False, r.text


# --- derived expressions: strict whitelist, bounded cost ---------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "temp.__class__",
        "(1).real",
        "temp[0]",
        "{temp}",
        "~temp",
        "temp << 3",
        "temp @ temp",
        "(x := 1) + temp",
        "max(*temp)",
        "abs(x=temp)",
        "1j + temp",
        "True + temp",
        "f'{temp}'",
        "... + temp",
        "__builtins__(temp)",
        "(lambda: temp)()",
        "[t for t in temp]",
        "-" * 300 + "temp",
        "(" * 300 + "temp" + ")" * 300,
    ],
)
def test_expression_whitelist_refuses(source: str) -> None:
    with pytest.raises(ValueError):
        compile_expression(source)


@pytest.mark.parametrize(
    "source",
    [
        "10 ** 10 ** 10 + temp",
        "9 ** 9 ** 9 ** 9 * temp",
        "temp ** 1e308",
        "pow(temp, 10 ** 10 ** 10)",
        "exp(exp(exp(temp)))",
        "floor(1e308) ** floor(1e308) + temp",
        "round(temp, 1e308) + round(1e308, -1e308)",
        "ceil(1e308) % 7 + floor(temp * 1e300) // 3",
        "max(temp, 1e308) * 1e308 * 1e308",
        "log(0 * temp) + sqrt(-temp) + 1 / (temp - temp)",
    ],
)
def test_huge_exponents_and_math_errors_cost_nothing(source: str) -> None:
    rule = parse_rules(json.dumps({"name": "d", "kind": "derived", "output": "out", "expression": source}))[0]
    evaluator = DerivedEval("d", rule, None)  # type: ignore[arg-type]
    started = time.perf_counter()
    for value in (2.0, 10.0, -3.0, 1e300):
        result = evaluator.compute("dev", {"temp": value})
        assert result is None or abs(result) < float("inf")
    assert time.perf_counter() - started < 0.5


# --- tenancy and scopes -------------------------------------------------------------------------


async def test_other_organisation_cannot_see_touch_or_hear_rules_and_alarms(platform: Platform) -> None:
    p, a, b = platform, platform.a, platform.b
    token = await p.device(a, "room-1")
    await p.device(b, "b-room")
    b_types = (await p.client.get("/api/v1/device-types", headers=b.auth)).json()
    b_type = next(t["id"] for t in b_types)
    # a rule may not name another organisation's device type
    foreign = hot_rule(where={"type": b_type})
    body = assert_problem(await p.client.post("/api/v1/rules", headers=a.auth, json=foreign), 422)
    assert [e["path"] for e in body["errors"]] == ["where.type"]  # type: ignore[attr-defined]
    rule = hot_rule(actions=[{"type": "command", "action": "reboot", "device": "b-room"}])
    created = (await p.client.post("/api/v1/rules", headers=a.auth, json=rule)).json()
    rid = created["id"]
    for method, path in (
        ("GET", f"/api/v1/rules/{rid}"),
        ("GET", f"/api/v1/rules/{rid}/versions"),
        ("PUT", f"/api/v1/rules/{rid}"),
        ("DELETE", f"/api/v1/rules/{rid}"),
    ):
        r = await p.client.request(method, path, headers=b.auth, json=hot_rule(value=99))
        assert_problem(r, 404)
    assert (await p.client.get("/api/v1/rules", headers=b.auth)).json() == []
    sub_a, sub_b = p.ctx.bus.subscribe(a.org_id), p.ctx.bus.subscribe(b.org_id)
    await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")
    events_a = [sub_a.queue.get_nowait() for _ in range(sub_a.queue.qsize())]
    assert {e["type"] for e in events_a} >= {"alarm", "action"}
    assert sub_b.queue.empty()
    # the command action cannot reach the other organisation's device
    outcome = next(e for e in events_a if e["type"] == "action")
    assert outcome["ok"] is False and "not found" in outcome["detail"]
    assert (await p.client.get("/api/v1/devices/b-room/commands", headers=b.auth)).json() == []
    alarm = (await p.client.get("/api/v1/alarms", headers=a.auth)).json()["items"][0]
    assert (await p.client.get("/api/v1/alarms", headers=b.auth, params={"rule": rid})).json()["total"] == 0
    assert_problem(await p.client.get(f"/api/v1/alarms/{alarm['id']}", headers=b.auth), 404)
    assert_problem(await p.client.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=b.auth), 404)
    assert (await p.client.get(f"/api/v1/alarms/{alarm['id']}", headers=a.auth)).json()["status"] == "raised"


async def test_read_only_key_reads_but_cannot_change_rules_or_alarms(platform: Platform) -> None:
    p, a = platform, platform.a
    token = await p.device(a, "room-1")
    rid = (await p.client.post("/api/v1/rules", headers=a.auth, json=hot_rule())).json()["id"]
    await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")
    alarm = (await p.client.get("/api/v1/alarms", headers=a.auth)).json()["items"][0]
    key = await p.client.post("/api/v1/api-keys", headers=a.auth, json={"name": "ro", "scopes": ["read"]})
    ro = {"X-API-Key": key.json()["key"]}
    assert (await p.client.get("/api/v1/rules", headers=ro)).status_code == 200
    assert (await p.client.post("/api/v1/rules/validate", headers=ro, json=hot_rule())).json()["valid"]
    for method, path in (
        ("POST", "/api/v1/rules"),
        ("PUT", "/api/v1/rules"),
        ("PUT", f"/api/v1/rules/{rid}"),
        ("DELETE", f"/api/v1/rules/{rid}"),
        ("POST", f"/api/v1/alarms/{alarm['id']}/ack"),
        ("POST", f"/api/v1/alarms/{alarm['id']}/clear"),
    ):
        assert_problem(await p.client.request(method, path, headers=ro, json=hot_rule(name="x")), 403)
    assert (await p.client.get(f"/api/v1/alarms/{alarm['id']}", headers=ro)).json()["status"] == "raised"
