"""A real MQTT round trip (CONNECT, CONNACK, DISCONNECT) to tell whether a broker answers."""

from __future__ import annotations

import aiomqtt

from iplus.core.ids import new_id
from iplus.infra.broker.address import BrokerAddress


async def mqtt_handshake(address: BrokerAddress, wait: float = 3.0) -> None:
    """Connect and disconnect once; raises when the broker does not accept the connection."""
    async with aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=f"iplus-probe-{new_id()}",
        timeout=wait,
    ):
        pass
