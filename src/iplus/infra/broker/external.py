"""An MQTT broker run elsewhere (Mosquitto, EMQX); iplus only connects to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from iplus.core.errors import NotReady
from iplus.infra.broker.address import parse_broker_url
from iplus.infra.broker.probe import mqtt_handshake
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check


class ExternalBroker:
    """A broker by ``mqtt://`` URL; start checks that it answers."""

    name = "broker"

    def __init__(self, url: str, prepare: Callable[[], Awaitable[None]] | None = None) -> None:
        self._address = parse_broker_url(url)
        self.prepare = prepare  # e.g. grant the platform's client its ACLs on the broker

    @property
    def address(self) -> tuple[str, int]:
        """Host and port of the external broker."""
        return self._address.host, self._address.port

    def describe(self) -> str:
        """Which broker, where."""
        host, port = self.address
        return f"external MQTT broker at mqtt://{host}:{port}"

    async def start(self) -> None:
        """Refuse to start when the broker does not answer an MQTT handshake."""
        try:
            await mqtt_handshake(self._address)
        except Exception as exc:
            raise NotReady(f"{self.describe()} does not answer: {exc}") from exc
        if self.prepare is not None:
            await self.prepare()

    async def stop(self) -> None:
        """Nothing to stop: the broker is not ours."""

    async def ping(self) -> Readiness:
        """MQTT handshake against the external broker."""

        async def check() -> str:
            await mqtt_handshake(self._address)
            return self.describe()

        return await timed_check("mqtt", check)
