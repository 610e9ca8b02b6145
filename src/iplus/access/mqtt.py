"""The platform's MQTT client: telemetry and command answers in, commands and desired values out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from iplus.access.codec import decode_payload
from iplus.access.commands import Commands, command_topic
from iplus.access.deadletters import DeadLetters
from iplus.access.ingest import Ingestor
from iplus.access.registry import Registry
from iplus.core.errors import InvalidInput
from iplus.core.ids import new_id
from iplus.infra.telemetry import Message

log = logging.getLogger(__name__)
TELEMETRY = "iplus/v1/devices/+/telemetry"
ACKS = "iplus/v1/devices/+/commands/ack"
MAX_BATCH = 5_000
STORE_ATTEMPTS = 3
# batches being decoded or waiting for their append; with few, the consumer stopped reading while
# one append ran and the next append got only a handful of messages (p50 latency ~125 -> ~80 ms)
MAX_IN_FLIGHT = 32
# a batch is cut after this long when the writer is idle, even if more is waiting: under a steady
# stream on a busy machine the incoming queue never ran empty, one batch grew for 2.3 s while the
# writer sat idle, and its live events overflowed the SSE queues; cutting after 5 ms made appends
# so small that a blast cost ~50 % more CPU per message, 100 ms costs nothing measurable
MAX_LINGER = 0.1


def device_of(topic: str) -> str:
    """The device id in ``iplus/v1/devices/{id}/...``."""
    parts = topic.split("/")
    return parts[3] if len(parts) > 4 and parts[:3] == ["iplus", "v1", "devices"] else ""


class MqttChannel:
    """Subscribes for the platform; acknowledges a QoS 1 message only once it is durable."""

    def __init__(
        self,
        *,
        address: Callable[[], tuple[str, int]],
        username: str | None,
        password: str | None,
        registry: Registry,
        ingestor: Ingestor,
        dead_letters: DeadLetters,
        commands: Commands,
        shared: bool = False,
    ) -> None:
        self.address = address  # read at each connect: the embedded broker may have moved port
        self.username, self.password = username, password
        self.registry = registry
        self.ingestor = ingestor
        self.dead_letters = dead_letters
        self.commands = commands
        # several platform workers share the load through one shared subscription group; an
        # external broker speaks MQTT 5 (amqtt, the embedded one, only 3.1.1)
        self.prefix = "$share/iplus/" if shared else ""
        self.v5 = shared
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._handlers: set[asyncio.Task[None]] = set()
        self.received = 0

    async def start(self) -> None:
        """Connect and keep consuming in the background; returns once subscribed."""
        self._task = asyncio.create_task(self._run_forever(), name="iplus-mqtt")
        await asyncio.wait_for(self._connected.wait(), timeout=10)

    async def stop(self) -> None:
        """Disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, topic: str, payload: Any, qos: int = 1) -> None:
        """Publish JSON; with QoS 1 it returns once the broker has the message."""
        if self._client is None or not self._connected.is_set():
            raise ConnectionError("not connected to the broker")
        await self._client.publish(topic, orjson.dumps(payload), qos=qos)

    async def deliver_command(self, device_id: str, command: dict[str, Any]) -> None:
        """Send a command to a device."""
        await self.publish(command_topic(device_id), command)

    async def send_desired(self, device_id: str, values: dict[str, Any]) -> None:
        """Tell a device its new desired values (retained, so it gets them when it reconnects)."""
        if self._client is None or not self._connected.is_set():
            return
        await self._client.publish(
            f"iplus/v1/devices/{device_id}/desired", orjson.dumps(values), qos=1, retain=True
        )

    async def _run_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._consume()
            except aiomqtt.MqttError as exc:
                self._connected.clear()
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _consume(self) -> None:
        host, port = self.address()
        options: dict[str, Any]
        if self.v5:
            # acknowledging only after the append keeps messages in flight longer; MQTT 5 lets us
            # tell the broker to allow many (with 3.1.1 Mosquitto allows 20, queues 1,000 more,
            # and past that drops QoS 1 messages)
            connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            connect.ReceiveMaximum = 65535
            options = {"protocol": aiomqtt.ProtocolVersion.V5, "properties": connect}
        else:
            options = {"clean_session": True}
        client = aiomqtt.Client(
            host,
            port,
            username=self.username,
            password=self.password,
            identifier=f"iplus-{new_id()}",
            max_queued_incoming_messages=0,
            **options,
        )
        # paho acknowledges QoS 1 on receipt by default; we ack after the append instead
        client._client.manual_ack_set(True)
        async with client:
            self._client = client
            await client.subscribe(self.prefix + TELEMETRY, qos=1)
            await client.subscribe(self.prefix + ACKS, qos=1)
            self._connected.set()
            pending: list[aiomqtt.Message] = []
            clock = asyncio.get_running_loop().time
            cut_at = 0.0
            async for message in client.messages:
                if not pending:
                    cut_at = clock() + MAX_LINGER
                pending.append(message)
                if len(pending) < MAX_BATCH and len(client.messages) > 0:
                    if clock() < cut_at or not self.ingestor.idle:
                        continue  # more is already waiting: take it into the same batch
                batch, pending = pending, []
                await self._in_flight.acquire()
                task = asyncio.create_task(self._handle(client, batch))
                self._handlers.add(task)  # a reference, so the task is not collected mid-flight
                task.add_done_callback(self._handlers.discard)

    async def _handle(self, client: aiomqtt.Client, batch: list[aiomqtt.Message]) -> None:
        try:
            ready: list[tuple[aiomqtt.Message, Message]] = []
            done: list[aiomqtt.Message] = []
            for message in batch:
                self.received += 1
                decoded = await self._decode(message)
                if decoded is None:
                    done.append(message)
                else:
                    ready.append((message, decoded))
            if ready:
                await self._store(ready)
                done += [raw for raw, _ in ready]
            for message in done:
                if message.qos > 0:
                    client._client.ack(message.mid, message.qos)
        except Exception:
            log.exception("could not handle a batch of %d MQTT messages", len(batch))
        finally:
            self._in_flight.release()

    async def _store(self, ready: list[tuple[aiomqtt.Message, Message]]) -> None:
        """Append, retrying a failing store; what still fails becomes dead letters, never a silent loss.

        A broker does not resend an unacknowledged message on a live connection, so giving up
        without a record would lose it; a dead letter keeps the payload and the reason.
        """
        delay = 0.5
        for attempt in range(STORE_ATTEMPTS):
            try:
                await self.ingestor.write([m for _, m in ready])
                return
            except Exception as exc:
                if attempt == STORE_ATTEMPTS - 1:
                    log.exception("giving up storing %d MQTT messages", len(ready))
                    for raw, message in ready:
                        payload = raw.payload if isinstance(raw.payload, bytes) else str(raw.payload).encode()
                        await self.dead_letters.record(
                            org_id=message.org_id,
                            device_id=message.device_id,
                            channel="mqtt",
                            topic=raw.topic.value,
                            payload=payload,
                            reasons=[f"could not be stored: {exc}"],
                        )
                    return
                await asyncio.sleep(delay)
                delay *= 2

    async def _decode(self, message: aiomqtt.Message) -> Message | None:
        """A storable message, or None once the message was handled (answer, dead letter)."""
        topic = message.topic.value
        device_id = device_of(topic)
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        identity = await self.registry.identity(device_id) if device_id else None
        org_id = identity.org_id if identity else None
        if topic.endswith("/commands/ack"):
            try:
                await self.commands.acknowledge(device_id, orjson.loads(payload))
            except (InvalidInput, orjson.JSONDecodeError) as exc:
                reason = exc.detail if isinstance(exc, InvalidInput) else f"payload is not JSON: {exc}"
                await self.dead_letters.record(
                    org_id=org_id,
                    device_id=device_id or None,
                    channel="mqtt",
                    topic=topic,
                    payload=payload,
                    reasons=[reason],
                )
            return None
        if identity is None:
            await self.dead_letters.record(
                org_id=None,
                device_id=device_id or None,
                channel="mqtt",
                topic=topic,
                payload=payload,
                reasons=["unknown device"],
            )
            return None
        decoded = decode_payload(payload, identity.properties)
        if decoded.reasons:
            await self.dead_letters.record(
                org_id=org_id,
                device_id=device_id,
                channel="mqtt",
                topic=topic,
                payload=payload,
                reasons=decoded.reasons,
            )
            return None
        return Message(identity.org_id, identity.type_id, device_id, decoded.msg_id, decoded.readings)
