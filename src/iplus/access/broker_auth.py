"""Who may connect to the embedded broker and which topics each client may use."""

from __future__ import annotations

import hmac

from iplus.access.registry import Registry
from iplus.core.errors import Unauthenticated

PLATFORM_USER = "iplus-platform"
TOPIC_ROOT = "iplus/v1/devices/"


def device_topics(device_id: str) -> tuple[set[str], set[str]]:
    """(topics the device may publish to, topics it may subscribe to)."""
    base = f"{TOPIC_ROOT}{device_id}"
    return {f"{base}/telemetry", f"{base}/commands/ack"}, {f"{base}/commands", f"{base}/desired"}


class DeviceBrokerAuth:
    """Devices log in with their id and token; the platform with its own internal secret."""

    def __init__(self, registry: Registry, platform_password: str) -> None:
        self.registry = registry
        self.platform_password = platform_password

    async def authenticate(self, username: str | None, password: str | None) -> bool:
        """True for the platform's own client and for devices with a valid token."""
        if not username or not password:
            return False
        if username == PLATFORM_USER:
            return hmac.compare_digest(password.encode(), self.platform_password.encode())
        try:
            await self.registry.authenticate(username, password)
        except Unauthenticated:
            return False
        return True

    def authorize(self, username: str | None, action: str, topic: str) -> bool:
        """A device publishes and subscribes only under its own topics; the platform anywhere."""
        if username == PLATFORM_USER:
            return True
        if not username:
            return False
        publish, subscribe = device_topics(username)
        if action == "publish":
            return topic in publish
        return topic in subscribe  # subscribe and receive
