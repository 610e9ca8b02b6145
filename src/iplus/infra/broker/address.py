"""Parse broker URLs and probe ports."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from iplus.core.errors import ConfigurationError

DEFAULT_MQTT_PORT = 1883


@dataclass(frozen=True)
class BrokerAddress:
    """Scheme, host, port and optional credentials from a broker URL."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> BrokerAddress:
    """``embedded://host:port`` or ``mqtt://[user:pass@]host:port``."""
    parts = urlsplit(url)
    if parts.scheme not in ("embedded", "mqtt"):
        raise ConfigurationError(
            f"broker URL {url!r}: scheme must be embedded:// (amqtt in-process) or mqtt:// (external)"
        )
    try:
        port = parts.port or DEFAULT_MQTT_PORT
    except ValueError as exc:
        raise ConfigurationError(f"broker URL {url!r} has an invalid port") from exc
    return BrokerAddress(
        scheme=parts.scheme,
        host=parts.hostname or "127.0.0.1",
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
