"""The local MQTT side: a source of readings (acknowledged after commit) and a publisher of alarm commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import aiomqtt

from iplus.access.edge.config import MqttBrokerConfig, MqttSourceConfig
from iplus.access.edge.forwarder import Backoff
from iplus.access.edge.model import Reading, Rejected, decode_flat
from iplus.access.edge.sources import Sink
from iplus.core.errors import InvalidInput

log = logging.getLogger("iplus.edge.mqtt")
MAX_KEPT_PAYLOAD = 4096
ACK_GRACE_S = 5.0
_Ack = tuple[asyncio.Future[None], int, int]  # committed?, MQTT message id, QoS


def _client(
    broker: MqttBrokerConfig, client_id: str | None, clean_session: bool | None = None
) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=client_id,
        clean_session=clean_session,
        username=broker.username,
        password=broker.password.get_secret_value() if broker.password else None,
    )


class MqttSource:
    """Subscribes to the telemetry topic at QoS 1 and sends PUBACK only once a reading is on disk.

    With a persistent session (the default) the broker keeps QoS 1 messages while the agent is
    down, and redelivers any it did not see acknowledged. A payload carrying ``msg_id`` is
    de-duplicated on redelivery; one without may then be queued twice.
    """

    name = "mqtt"

    def __init__(
        self,
        broker: MqttBrokerConfig,
        config: MqttSourceConfig,
        client_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.config = config
        self.client_id = client_id
        self.clock = clock
        self.ready = asyncio.Event()
        self.received = 0

    async def run(self, sink: Sink) -> None:
        """Receive until cancelled, reconnecting with back-off when the broker goes away."""
        backoff = Backoff(0.5, 10.0, 2.0)
        while True:
            try:
                await self._session(sink)
            except aiomqtt.MqttError as exc:
                self.ready.clear()
                delay = backoff.delay()
                log.warning("local MQTT broker %s:%s: %s; reconnecting in %.1f s", *self._addr(), exc, delay)
                await asyncio.sleep(delay)
            else:
                backoff.reset()

    def decode(self, topic: str, payload: bytes) -> tuple[list[Reading], list[Rejected]]:
        """Readings from one message, or the reason it cannot be read."""
        levels = topic.split("/")
        device_id = levels[self.config.device_level] if len(levels) > self.config.device_level else ""
        try:
            return decode_flat(device_id, payload, self.clock()), []
        except InvalidInput as exc:
            kept = payload[:MAX_KEPT_PAYLOAD].decode("utf-8", "replace")
            return [], [Rejected(device_id or topic, kept, f"{topic}: {exc.detail}")]

    async def _session(self, sink: Sink) -> None:
        persistent = self.config.persistent_session
        client = _client(self.broker, self.client_id, clean_session=not persistent)
        # Manual acknowledgement must be on before CONNACK: a persistent session's queued messages
        # arrive at once. aiomqtt does not expose it, so it is set on the paho client underneath.
        client._client.manual_ack_set(True)
        pending: asyncio.Queue[_Ack | None] = asyncio.Queue()
        async with client:
            await client.subscribe(self.config.topic, qos=self.config.qos)
            self.ready.set()
            acker = asyncio.create_task(self._ack_in_order(client, pending))
            try:
                async for message in client.messages:
                    readings, rejects = self.decode(message.topic.value, message.payload)
                    done = await sink.submit(readings, rejects)
                    self.received += 1
                    if message.qos > 0:
                        pending.put_nowait((done, message.mid, message.qos))
            finally:
                self.ready.clear()
                # acknowledge what was already handed over before leaving, so a clean stop causes
                # no redelivery; the agent keeps committing until its sources have stopped
                pending.put_nowait(None)
                try:
                    await asyncio.wait_for(acker, ACK_GRACE_S)
                except (TimeoutError, aiomqtt.MqttError):
                    acker.cancel()

    @staticmethod
    async def _ack_in_order(client: aiomqtt.Client, pending: asyncio.Queue[_Ack | None]) -> None:
        # MQTT 3.1.1 (4.6) wants PUBACKs in the order the PUBLISHes came; commits finish in that order
        while (item := await pending.get()) is not None:
            done, mid, qos = item
            try:
                await done
            except Exception as exc:  # not acknowledged: the broker sends it again after a reconnect
                log.error("reading not stored, left unacknowledged: %s", exc)
                continue
            client._client.ack(mid, qos)

    def _addr(self) -> tuple[str, int]:
        return self.broker.host, self.broker.port


class MqttPublisher:
    """Publishes local commands (alarm actions) from a bounded queue, reconnecting as needed.

    Local commands are best effort: the alarm itself is recorded and forwarded regardless, and
    when the queue is full the oldest command is dropped, as a stale command is worse than none.
    """

    def __init__(self, broker: MqttBrokerConfig, client_id: str, maxlen: int = 1000) -> None:
        self.broker = broker
        self.client_id = client_id
        self.published = 0
        self._queue: deque[tuple[str, bytes, int]] = deque(maxlen=maxlen)
        self._wakeup = asyncio.Event()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message for the broker."""
        if len(self._queue) == self._queue.maxlen:
            log.warning("local command queue full; dropping the oldest command")
        self._queue.append((topic, payload, qos))
        self._wakeup.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        backoff = Backoff(0.5, 10.0, 2.0)
        while True:
            await self._wakeup.wait()
            try:
                async with _client(self.broker, self.client_id) as client:
                    backoff.reset()
                    while True:
                        while self._queue:
                            topic, payload, qos = self._queue[0]
                            await client.publish(topic, payload, qos=qos)
                            self._queue.popleft()  # only once the broker has it
                            self.published += 1
                        self._wakeup.clear()
                        await self._wakeup.wait()
            except aiomqtt.MqttError as exc:
                delay = backoff.delay()
                log.warning("local MQTT broker: %s; commands wait %.1f s", exc, delay)
                await asyncio.sleep(delay)
