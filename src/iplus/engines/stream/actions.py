"""Actions of alarms: command a device, call a webhook, publish on MQTT, or a registered action."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from iplus.engines.stream.egress import EgressPolicy, GuardedTransport
from iplus.engines.stream.model import CommandAction, MqttAction, ServiceAction, WebhookAction

log = logging.getLogger(__name__)
# (org id, device id, action, input, timeout in seconds) -> the command's status
SendCommand = Callable[[str, str, str, Any, float], Awaitable[str]]
# (topic, JSON payload, QoS)
Publish = Callable[[str, Any, int], Awaitable[None]]
# (org id, params, alarm) -> a short result text; registered by the platform (e.g. start a service system)
Registered = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[str]]
AnyAction = CommandAction | WebhookAction | MqttAction | ServiceAction


def mqtt_topic(org_id: str, topic: str) -> str:
    """Where an MQTT action publishes: inside its organisation's namespace, never on a device's topics."""
    return f"iplus/v1/orgs/{org_id}/alarms/{topic}"


@dataclass(frozen=True)
class Outcome:
    """How an action went."""

    ok: bool
    detail: str


class ActionRunner:
    """Runs an alarm's actions with the capabilities the platform hands in."""

    def __init__(
        self,
        *,
        send_command: SendCommand | None = None,
        publish: Publish | None = None,
        egress: EgressPolicy | None = None,
        concurrency: int = 64,
    ) -> None:
        self.send_command = send_command
        self.publish = publish
        # webhooks reach only what the operator allows (default: public addresses)
        self.egress = egress or EgressPolicy.parse("public")
        self.registered: dict[str, Registered] = {}
        # a flapping rule aimed at a slow endpoint must not open connections without end: the rest queue
        self._slots = asyncio.Semaphore(concurrency)

    def register(self, name: str, action: Registered) -> None:
        """Make ``{"type": "service", "name": name}`` actions call ``action``."""
        self.registered[name] = action

    async def run(self, org_id: str, action: AnyAction, alarm: dict[str, Any]) -> Outcome:
        """Run one action for ``alarm``, a bounded number at once; failures are outcomes, not exceptions."""
        async with self._slots:
            return await self._run(org_id, action, alarm)

    async def _run(self, org_id: str, action: AnyAction, alarm: dict[str, Any]) -> Outcome:
        try:
            if isinstance(action, CommandAction):
                return await self._command(org_id, action, alarm)
            if isinstance(action, WebhookAction):
                return await self._webhook(action, alarm)
            if isinstance(action, MqttAction):
                if self.publish is None:
                    return Outcome(False, "no MQTT connection to publish on")
                topic = mqtt_topic(org_id, action.topic)
                await self.publish(topic, {"type": "alarm", **alarm}, action.qos)
                return Outcome(True, f"published on {topic}")
            handler = self.registered.get(action.name)
            if handler is None:
                return Outcome(False, f"no action is registered under {action.name!r}")
            return Outcome(True, await handler(org_id, action.params, alarm))
        except Exception as exc:  # an action's failure must not stop the alarm flow
            log.warning("action %s failed: %s", action.type, exc)
            return Outcome(False, f"{type(exc).__name__}: {exc}")

    async def _command(self, org_id: str, action: CommandAction, alarm: dict[str, Any]) -> Outcome:
        if self.send_command is None:
            return Outcome(False, "no command service")
        device = action.device or alarm["subject"]
        if device.startswith("group:"):
            return Outcome(False, "a group alarm names no device: give the action a device")
        status = await self.send_command(org_id, device, action.action, action.input, action.timeout_s)
        return Outcome(status != "failed", f"command {action.action} to {device}: {status}")

    async def _webhook(self, action: WebhookAction, alarm: dict[str, Any]) -> Outcome:
        # no redirects: a public hook could otherwise send the request on to a private address
        async with httpx.AsyncClient(
            transport=GuardedTransport(self.egress), follow_redirects=False
        ) as client:
            delay, last = 0.2, ""
            for attempt in range(action.retries + 1):
                if attempt:
                    await asyncio.sleep(delay)
                    delay *= 2
                try:
                    r = await client.post(
                        action.url,
                        json={"type": "alarm", **alarm},
                        headers=action.headers,
                        timeout=action.timeout_s,
                    )
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    continue
                if r.status_code < 300:
                    return Outcome(True, f"POST {action.url}: {r.status_code}")
                last = f"POST {action.url}: {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # the receiver refuses it: sending again will not help
            return Outcome(False, last)
