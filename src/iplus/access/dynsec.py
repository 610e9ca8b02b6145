"""Keep Mosquitto's dynamic-security plugin in step with the device registry.

Every device becomes a Mosquitto client (username = device id, password = its token) with a
role of its own that allows exactly its topics; Mosquitto's default ACL denies everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiomqtt
import orjson

from iplus.access.broker_auth import device_topics
from iplus.core.errors import InvalidInput, NotReady
from iplus.core.ids import new_id

CONTROL = "$CONTROL/dynamic-security/v1"
PLATFORM_ROLE = "iplus-platform"


def device_role(device_id: str) -> str:
    """The Mosquitto role that carries one device's ACLs."""
    return f"iplus-device-{device_id}"


def device_commands(device_id: str, token: str) -> list[dict[str, Any]]:
    """dynsec commands that create (or refresh) one device's role and client."""
    publish, subscribe = device_topics(device_id)
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in sorted(publish)]
    for topic in sorted(subscribe):
        acls.append({"acltype": "subscribePattern", "topic": topic, "allow": True})
        acls.append({"acltype": "publishClientReceive", "topic": topic, "allow": True})
    role = device_role(device_id)
    return [
        {"command": "createRole", "rolename": role, "acls": acls},
        {"command": "createClient", "username": device_id, "password": token, "roles": [{"rolename": role}]},
        # when the client existed already (a rotated token), the create fails and this applies
        {"command": "setClientPassword", "username": device_id, "password": token},
    ]


class MosquittoDynsec:
    """Sends dynamic-security commands as the broker's admin and waits for the answers."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` in one message; returns Mosquitto's response for each."""
        tag = new_id()
        for i, command in enumerate(commands):
            command["correlationData"] = f"{tag}-{i}"
        try:
            async with aiomqtt.Client(
                self.host,
                self.port,
                username=self.username,
                password=self.password,
                identifier=f"iplus-dynsec-{tag}",
                timeout=5,
            ) as client:
                await client.subscribe(f"{CONTROL}/response", qos=1)
                await client.publish(CONTROL, orjson.dumps({"commands": commands}), qos=1)
                async with asyncio.timeout(10):
                    async for message in client.messages:
                        answer = orjson.loads(message.payload)
                        responses = answer.get("responses", [])
                        if any(str(r.get("correlationData", "")).startswith(tag) for r in responses):
                            return list(responses)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            where = f"{self.host}:{self.port}"
            raise NotReady(f"Mosquitto dynamic security at {where} did not answer: {exc}") from exc
        raise NotReady("Mosquitto dynamic security gave no answer")

    async def _admin_roles(self) -> list[str]:
        [answer] = await self.run([{"command": "getClient", "username": self.username}])
        client = answer.get("data", {}).get("client", {})
        return [r.get("rolename") for r in client.get("roles", [])]

    async def prepare_platform(self) -> None:
        """Let the admin client (which the platform's ingest uses) publish commands to devices."""
        if PLATFORM_ROLE in await self._admin_roles():
            return
        acl = {"acltype": "publishClientSend", "topic": "iplus/#", "allow": True}
        # Mosquitto disconnects a client whose roles change, and this client is the admin itself:
        # the answer is lost, so the outcome is read back on a new connection
        with contextlib.suppress(NotReady):
            await self.run(
                [
                    {"command": "createRole", "rolename": PLATFORM_ROLE, "acls": [acl]},
                    {"command": "addClientRole", "username": self.username, "rolename": PLATFORM_ROLE},
                ]
            )
        if PLATFORM_ROLE not in await self._admin_roles():
            raise NotReady("could not give the broker's admin client the iplus-platform role")

    async def sync_devices(self, credentials: list[tuple[str, str]]) -> None:
        """Create or refresh the Mosquitto clients of these devices; raises when any fails."""
        if any(device_id == self.username for device_id, _ in credentials):
            raise InvalidInput(f"device id {self.username!r} is the broker's admin user")
        for start in range(0, len(credentials), 200):
            chunk = credentials[start : start + 200]
            commands = [c for device_id, token in chunk for c in device_commands(device_id, token)]
            responses = await self.run(commands)
            failures = [
                r.get("error")
                for r in responses
                if r.get("error")
                and r.get("command") in ("setClientPassword", "addClientRole")
                and "already" not in str(r.get("error"))
            ]
            if failures:
                raise NotReady(f"Mosquitto dynamic security refused: {failures[0]}")
