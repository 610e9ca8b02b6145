"""amqtt running inside the platform process; moves to a free port when the asked one is taken."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from iplus.core.errors import NotReady
from iplus.core.ids import new_id
from iplus.infra.broker.address import BrokerAddress, free_port, parse_broker_url, port_is_free
from iplus.infra.broker.probe import mqtt_handshake
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check

log = logging.getLogger(__name__)
# amqtt builds its plugins itself from dotted paths; they find their broker's hooks here by id,
# with the event loop the hooks belong to (the platform's, not the broker's thread)
_HOOKS: dict[str, tuple[BrokerAuth, asyncio.AbstractEventLoop]] = {}


class BrokerAuth(Protocol):
    """Decides who may connect and which topics each client may use."""

    async def authenticate(self, username: str | None, password: str | None) -> bool:
        """True when the credentials are valid."""
        ...

    def authorize(self, username: str | None, action: str, topic: str) -> bool:
        """True when ``username`` may ``action`` (publish, subscribe, receive) on ``topic``."""
        ...


class HookAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """amqtt authentication through the broker's ``BrokerAuth``."""

    @dataclass
    class Config:
        """Which broker's hooks to use."""

        hooks: str = ""

    async def authenticate(self, *, session: Session) -> bool | None:
        """Ask the hooks, on the platform's event loop (the registry's database lives there)."""
        found = _HOOKS.get(self.config.hooks)
        if found is None:
            return False
        hooks, home = found
        # a last will is published in the client's name later: it must be a topic the client may use
        if session.will_flag and not hooks.authorize(session.username, "publish", session.will_topic or ""):
            return False
        check = hooks.authenticate(session.username, session.password)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(check, home))


class HookTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt topic access through the broker's ``BrokerAuth``."""

    @dataclass
    class Config:
        """Which broker's hooks to use."""

        hooks: str = ""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        """Ask the hooks."""
        found = _HOOKS.get(self.config.hooks)
        if found is None or topic is None or action is None:
            return False
        return found[0].authorize(session.username if session else None, action.value, topic)


class EmbeddedBroker:
    """The default broker: amqtt (MQTT 3.1.1) in the platform's process, on an event loop and
    thread of its own, so that relaying messages does not wait behind API and ingest work."""

    name = "broker"

    def __init__(
        self, url: str, auth: BrokerAuth | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        self.auth = auth
        self.credentials = credentials
        self._hooks_id = new_id()
        self.requested = parse_broker_url(url)
        self._address = self.requested
        self._broker: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.moved_from: int | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Host and port clients connect to (after any move to a free port)."""
        return self._address.host, self._address.port

    def describe(self) -> str:
        """Which broker, where, and why it is not on the asked port."""
        host, port = self.address
        line = f"embedded amqtt broker on mqtt://{host}:{port}"
        if self.moved_from is not None:
            line += f" (port {self.moved_from} is taken by another process, so iplus uses {port})"
        return line

    async def start(self) -> None:
        """Bind the listener and start serving."""
        from amqtt.broker import Broker  # heavy import, only when the embedded broker runs

        host, port = self.requested.host, self.requested.port
        if port and not port_is_free(host, port):
            self.moved_from = port
            # the next few ports first, so a second broker lands somewhere people can guess
            port = next((p for p in range(port + 1, port + 11) if port_is_free(host, p)), 0)
        if port == 0:
            port = free_port(host)
        user, password = self.credentials or (None, None)
        self._address = BrokerAddress("embedded", host, port, user, password)
        plugins: dict[str, Any]
        if self.auth is None:
            # only the auth plugin: amqtt's default plugin set costs more than half its QoS1 rate
            plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        else:
            _HOOKS[self._hooks_id] = (self.auth, asyncio.get_running_loop())
            plugins = {
                f"{__name__}.HookAuthPlugin": {"hooks": self._hooks_id},
                f"{__name__}.HookTopicPlugin": {"hooks": self._hooks_id},
            }
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": plugins,
        }
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="iplus-broker", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

        async def create_and_start() -> Any:
            broker = Broker(config)  # amqtt binds to the loop it is created on
            await broker.start()
            return broker

        try:
            self._broker = await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(create_and_start(), loop)
            )
        except Exception as exc:
            await self._end_thread()
            raise NotReady(f"embedded MQTT broker could not start on {host}:{port}: {exc}") from exc
        log.info("%s", self.describe())

    async def stop(self) -> None:
        """Stop serving, close every client session, end the broker's thread."""
        if self._broker is not None and self._loop is not None:
            broker, self._broker = self._broker, None
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(broker.shutdown(), self._loop))
        await self._end_thread()
        _HOOKS.pop(self._hooks_id, None)

    async def _end_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 10)
            loop.close()

    async def ping(self) -> Readiness:
        """MQTT handshake against the embedded listener."""

        async def check() -> str:
            if self._broker is None:
                raise NotReady("embedded broker is not running")
            await mqtt_handshake(self._address)
            return self.describe()

        return await timed_check("amqtt", check)
