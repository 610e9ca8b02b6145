"""Alarm actions for real: a command over MQTT to a device, a webhook on loopback, an MQTT publish."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiomqtt
import pytest

from iplus.engines.stream.egress import EgressPolicy
from tests.access.conftest import Platform
from tests.stream.test_api import push


class Hook:
    """A loopback HTTP server that records JSON bodies; it answers 503 to the first request."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 503 if hook.attempts == 1 else 200
                if status == 200:
                    hook.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


async def test_command_webhook_and_mqtt_actions(platform: Platform, hook: Hook) -> None:
    p, a = platform, platform.a
    # the operator allows loopback webhooks explicitly (refused by default: see test_review_regressions)
    p.ctx.rules.runner.egress = EgressPolicy.parse("public, 127.0.0.1")
    token = await p.device(a, "room-1")
    host, port = p.ctx.broker.address
    rule = {
        "name": "hot",
        "kind": "threshold",
        "key": "temp",
        "op": ">",
        "value": 30,
        "clear": 28,
        "actions": [
            {"type": "command", "action": "setMode", "input": "eco"},
            {"type": "webhook", "url": hook.url, "on": "raise", "retries": 2, "timeout_s": 2},
            {"type": "webhook", "url": hook.url, "on": "clear"},
            {"type": "mqtt", "topic": "alerts/org-a/hot"},
        ],
    }
    r = await p.client.post("/api/v1/rules", headers=a.auth, json=rule)
    assert r.status_code == 201, r.text
    async with (
        aiomqtt.Client(host, port, username="room-1", password=token, identifier="room-1-test") as device,
        aiomqtt.Client(
            host, port, username=p.ctx.mqtt.username, password=p.ctx.mqtt.password, identifier="listener"
        ) as listener,
    ):
        await device.subscribe("iplus/v1/devices/room-1/commands", qos=1)
        await listener.subscribe(f"iplus/v1/orgs/{a.org_id}/alarms/#", qos=1)
        await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")

        async def first(client: aiomqtt.Client) -> tuple[str, Any]:
            async for message in client.messages:
                return message.topic.value, json.loads(message.payload)
            raise AssertionError("no message")

        topic, command = await asyncio.wait_for(first(device), 5)
        assert topic == "iplus/v1/devices/room-1/commands"
        assert command["action"] == "setMode" and command["input"] == "eco"
        topic, published = await asyncio.wait_for(first(listener), 5)
        assert topic == f"iplus/v1/orgs/{a.org_id}/alarms/alerts/org-a/hot"
        assert (
            published["type"] == "alarm" and published["rule"] == "hot" and published["subject"] == "room-1"
        )
    # the webhook got the raised alarm on its second attempt (the first answered 503)
    assert hook.attempts == 2 and [b["status"] for b in hook.bodies] == ["raised"]
    assert hook.bodies[0]["value"] == 35.0 and hook.bodies[0]["rule"] == "hot"
    commands = (await p.client.get("/api/v1/devices/room-1/commands", headers=a.auth)).json()
    assert [(c["action"], c["status"]) for c in commands] == [("setMode", "delivered")]
    # the clear runs the on-clear webhook only
    await push(p, "room-1", token, 20, "2026-01-01T00:00:01Z")
    assert [b["status"] for b in hook.bodies] == ["raised", "cleared"]
    assert len((await p.client.get("/api/v1/devices/room-1/commands", headers=a.auth)).json()) == 1


async def test_failed_actions_are_reported_not_raised(platform: Platform) -> None:
    p, a = platform, platform.a
    p.ctx.rules.runner.egress = EgressPolicy.parse("127.0.0.0/8")
    token = await p.device(a, "room-1")
    rule = {
        "name": "hot",
        "kind": "threshold",
        "key": "temp",
        "op": ">",
        "value": 30,
        # port 9 (discard) on loopback: nothing listens, the connection is refused
        "actions": [
            {"type": "webhook", "url": "http://127.0.0.1:9/x", "retries": 1, "timeout_s": 1},
            {"type": "command", "action": "no-such-action"},
        ],
    }
    assert (await p.client.post("/api/v1/rules", headers=a.auth, json=rule)).status_code == 201
    sub = p.ctx.bus.subscribe(a.org_id)
    await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")
    events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    outcomes = {e["action"]: e for e in events if e["type"] == "action"}
    assert outcomes["webhook"]["ok"] is False and "ConnectError" in outcomes["webhook"]["detail"]
    assert (
        outcomes["command"]["ok"] is False and "no action 'no-such-action'" in outcomes["command"]["detail"]
    )
    # the alarm itself stands
    body = (await p.client.get("/api/v1/alarms", headers=a.auth, params={"status": "raised"})).json()
    assert body["total"] == 1
