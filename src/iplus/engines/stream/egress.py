"""Where webhooks may connect: every public address by default, plus networks and hosts an operator allows.

The check runs twice: when a rule is saved (literal addresses and ``localhost``, for a clear error)
and when a webhook connects (every address its host name resolves to), so a name pointing at a
private address, or re-pointed after saving, cannot reach the platform's own network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT = "public"
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


class EgressRefused(Exception):
    """A webhook would connect to an address the operator did not allow."""


def _plain(ip: IPAddress) -> IPAddress:
    # ::ffff:a.b.c.d is the IPv4 address a.b.c.d: judge (and match) it as such
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


class EgressPolicy:
    """Which addresses webhooks may reach (``IPLUS_WEBHOOK_ALLOW``)."""

    def __init__(
        self, *, public: bool, networks: tuple[IPNetwork, ...] = (), hosts: frozenset[str] = frozenset()
    ):
        self.public = public
        self.networks = networks
        self.hosts = hosts

    @classmethod
    def parse(cls, text: str) -> EgressPolicy:
        """From a comma-separated list of ``public``, networks or addresses (CIDR), and host names."""
        public, networks, hosts = False, [], set()
        for raw in text.split(","):
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if entry == "public":
                public = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST.match(entry):
                raise ValueError(
                    f"webhook allow-list entry {raw.strip()!r} is not public, a network or a host name"
                )
            hosts.add(entry)
        return cls(public=public, networks=tuple(networks), hosts=frozenset(hosts))

    def allows(self, host: str, address: str) -> bool:
        """Whether a webhook to ``host`` may connect to ``address``."""
        if host.lower().rstrip(".") in self.hosts:
            return True  # the operator vouches for this name, wherever it points
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        if any(ip in net for net in self.networks):
            return True
        return self.public and _public(ip)

    def problem(self, url: str) -> str | None:
        """Why ``url`` can never be called (checked when a rule is saved), or None."""
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as exc:
            return f"not a valid URL: {exc}"
        if not host:
            return "the URL names no host"
        name = host.lower().rstrip(".")
        if name in self.hosts:
            return None
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name == "localhost" or name.endswith(".localhost"):
                return f"webhooks to {host} are not allowed (see IPLUS_WEBHOOK_ALLOW)"
            return None  # a name: checked against every address it resolves to when called
        if not self.allows(name, name):
            return f"webhooks to {host} are not allowed (see IPLUS_WEBHOOK_ALLOW)"
        return None

    async def addresses(self, host: str, port: int) -> list[str]:
        """The allowed addresses ``host`` resolves to; ``EgressRefused`` if any is not allowed."""
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:  # a transport error like any other: the webhook is tried again
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        refused = [a for a in addresses if not self.allows(host, a)]
        if refused or not addresses:
            raise EgressRefused(
                f"webhooks to {host} ({', '.join(refused)}) are not allowed (see IPLUS_WEBHOOK_ALLOW)"
            )
        return addresses


class _Guarded(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, and to exactly the address it checked."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check every address, connect to the first that answers (TLS still names ``host``)."""
        error: Exception | None = None
        for address in await self.policy.addresses(host, port):
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: webhooks go over TCP."""
        raise EgressRefused("webhooks do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does."""
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An HTTP transport whose connections go only where ``policy`` allows (no proxy, no Unix socket)."""

    def __init__(self, policy: EgressPolicy, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            network_backend=_Guarded(policy),
        )
