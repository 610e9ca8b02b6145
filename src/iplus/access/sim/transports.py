"""How messages leave the simulator: MQTT per device, HTTP per device, batched HTTP, or standard output.

A transport turns a batch of messages into one outcome per message: ``None`` when the platform took
it, or a :class:`Failure`. Transport errors never escape ``send``: a simulator that stops on the
first refused message tells the operator less than one that counts every refusal by reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import quote, urlsplit

import httpx
import orjson

from iplus.access.sim.devices import Device
from iplus.access.sim.payloads import FLAT_JSON, Message, batch_body, encode
from iplus.core.errors import InvalidInput
from iplus.infra.broker.address import parse_broker_url

TOPIC = "iplus/v1/devices/{device_id}/telemetry"
DEVICE_PATH = "/api/v1/devices/{device_id}/telemetry"
BATCH_PATH = "/api/v1/telemetry"
RECONNECT_AFTER_S = 2.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message was not taken: a short reason to count by, and one detail to show."""

    reason: str
    detail: str = ""


Outcome = Failure | None


class Transport(Protocol):
    """Sends messages; ``max_batch`` > 1 lets the runner hand over several messages at once."""

    name: str
    max_batch: int

    async def open(self, devices: Sequence[Device]) -> None:
        """Connect (all devices' credentials are known from here on)."""
        ...

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """Send the messages; one outcome per message, never an exception."""
        ...

    async def close(self) -> None:
        """Disconnect and release everything."""
        ...


def topic_of(device_id: str) -> str:
    """The telemetry topic of a device."""
    return TOPIC.format(device_id=device_id)


@dataclass
class _Link:
    client: Any = None  # aiomqtt.Client while connected
    failure: Failure = Failure("mqtt not connected")
    retry_at: float = 0.0


class MqttTransport:
    """One MQTT connection per device (username = device id, password = token), publishing at ``qos``."""

    name = "mqtt"
    max_batch = 1

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        qos: int = 1,
        senml: bool = False,
        timeout: float = 10.0,
        connect_concurrency: int = 32,
    ) -> None:
        address = parse_broker_url(url)
        if address.scheme != "mqtt":
            raise InvalidInput(f"broker {url!r}: the simulator connects to mqtt://host:port")
        if qos not in (0, 1, 2):
            raise InvalidInput("qos must be 0, 1 or 2")
        self.host, self.port = address.host, address.port
        self.qos, self.senml, self.timeout = qos, senml, timeout
        self._links: dict[str, _Link] = {}
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # a burst of CONNECTs from thousands of devices would trip the broker's listen backlog
        self._connecting = asyncio.Semaphore(connect_concurrency)

    async def open(self, devices: Sequence[Device]) -> None:
        """Connect every device; refusals are remembered and reported per message, not raised."""
        self._tokens = {d.device_id: d.token for d in devices}
        self._links = {d.device_id: _Link() for d in devices}
        self._locks = {d.device_id: asyncio.Lock() for d in devices}
        await asyncio.gather(*(self._connect(d.device_id) for d in devices))

    async def _connect(self, device_id: str) -> None:
        import aiomqtt

        link = self._links[device_id]
        client = aiomqtt.Client(
            self.host,
            self.port,
            username=device_id,
            password=self._tokens[device_id],
            identifier=device_id,
            timeout=self.timeout,
        )
        async with self._connecting:
            try:
                await client.__aenter__()
            except (aiomqtt.MqttError, OSError) as exc:
                link.failure = Failure("mqtt connect", str(exc))
                link.retry_at = time.monotonic() + RECONNECT_AFTER_S
                return
        link.client = client

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """Publish each message on its device's connection (QoS 1 and 2 wait for the broker's ack)."""
        return [await self._publish(m) for m in messages]

    async def _publish(self, message: Message) -> Outcome:
        import aiomqtt

        link = self._links.get(message.device_id)
        if link is None:
            return Failure("unknown device", message.device_id)
        if link.client is None:
            async with self._locks[message.device_id]:
                if link.client is None and time.monotonic() >= link.retry_at:
                    await self._connect(message.device_id)
            if link.client is None:
                return link.failure
        body, _ = encode(message, self.senml)
        try:
            await link.client.publish(topic_of(message.device_id), body, qos=self.qos, timeout=self.timeout)
        except aiomqtt.MqttError as exc:
            # the connection is gone or stuck: drop it and let a later message reconnect
            failure = Failure("mqtt publish", str(exc))
            await self._drop(link, failure)
            return failure
        return None

    async def _drop(self, link: _Link, failure: Failure) -> None:
        client, link.client, link.failure = link.client, None, failure
        link.retry_at = time.monotonic() + RECONNECT_AFTER_S
        with contextlib.suppress(Exception):
            await client.__aexit__(None, None, None)

    async def close(self) -> None:
        """Disconnect every device."""
        clients = [link.client for link in self._links.values() if link.client is not None]
        for link in self._links.values():
            link.client = None

        async def leave(client: Any) -> None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

        await asyncio.gather(*(leave(c) for c in clients))


def _check_http(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"platform URL {url!r}: use http://host:port or https://host")
    return url.rstrip("/")


def _failure(response: httpx.Response) -> Failure:
    """A refusal: the status, and the problem+json detail (with its reasons, when it lists any)."""
    detail = response.reason_phrase
    with contextlib.suppress(ValueError):
        problem = response.json()
        if isinstance(problem, dict):
            detail = str(problem.get("detail") or problem.get("title") or detail)
            reasons = problem.get("reasons") or problem.get("errors")
            if reasons:
                detail += f" {orjson.dumps(reasons)[:300].decode(errors='replace')}"
    return Failure(f"http {response.status_code}", detail)


async def _post(client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]) -> Outcome:
    try:
        response = await client.post(path, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return Failure("http timeout", str(exc) or type(exc).__name__)
    except httpx.HTTPError as exc:
        return Failure("http error", str(exc) or type(exc).__name__)
    return None if response.is_success else _failure(response)


class HttpTransport:
    """One POST per message to the device's endpoint, authenticated by its token."""

    name = "http"
    max_batch = 1

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        senml: bool = False,
        timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        self.base_url, self.senml = _check_http(base_url), senml
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._timeout = timeout
        self._tokens: dict[str, str] = {}
        self._client: httpx.AsyncClient | None = None

    async def open(self, devices: Sequence[Device]) -> None:
        """Remember the tokens and open a pooled client."""
        self._tokens = {d.device_id: d.token for d in devices}
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout, limits=self._limits)

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """POST each message with ``Authorization: Bearer <token>``."""
        assert self._client is not None, "open() first"
        outcomes: list[Outcome] = []
        for message in messages:
            body, content_type = encode(message, self.senml)
            headers = {
                "Authorization": f"Bearer {self._tokens[message.device_id]}",
                "Content-Type": content_type,
            }
            path = DEVICE_PATH.format(device_id=quote(message.device_id, safe=""))
            outcomes.append(await _post(self._client, path, body, headers))
        return outcomes

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class HttpBatchTransport:
    """Many devices' messages in one POST to the batch endpoint, authenticated by an API key."""

    name = "http-batch"

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str = "",
        batch_size: int = 100,
        timeout: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        if not api_key:
            raise InvalidInput("the batch endpoint needs an API key (--api-key or IPLUS_API_KEY)")
        if not 1 <= batch_size <= 10_000:
            raise InvalidInput("batch size must be 1..10000")
        self.base_url, self.max_batch = _check_http(base_url), batch_size
        self._headers = {"X-API-Key": api_key, "Content-Type": FLAT_JSON}
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def open(self, devices: Sequence[Device]) -> None:
        """Open a pooled client (device tokens are not used: the API key speaks for them)."""
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout, limits=self._limits)

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """POST the batch; the one response is every message's outcome."""
        assert self._client is not None, "open() first"
        outcome = await _post(self._client, BATCH_PATH, batch_body(messages), self._headers)
        return [outcome] * len(messages)

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class StdoutTransport:
    """Writes a JSON line per message (``{"device_id", "payload"}``) instead of sending: to try profiles."""

    name = "stdout"
    max_batch = 1

    def __init__(self, senml: bool = False, stream: IO[str] | None = None) -> None:
        self.senml = senml
        self._stream = stream

    async def open(self, devices: Sequence[Device]) -> None:
        """Nothing to connect."""

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """Write the messages."""
        stream = self._stream or sys.stdout
        for message in messages:
            body, _ = encode(message, self.senml)
            stream.write(
                f'{{"device_id":{orjson.dumps(message.device_id).decode()},"payload":{body.decode()}}}\n'
            )
        stream.flush()
        return [None] * len(messages)

    async def close(self) -> None:
        """Nothing to close."""
