"""Bootstrap: settings -> adapters (picked by URL) -> services -> API, portal and CLI."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from fastapi import FastAPI

from iplus.access.broker_auth import PLATFORM_USER, DeviceBrokerAuth
from iplus.access.commands import Commands
from iplus.access.deadletters import DeadLetters
from iplus.access.dynsec import MosquittoDynsec
from iplus.access.ingest import Ingestor
from iplus.access.mqtt import MqttChannel
from iplus.access.registry import Registry
from iplus.access.twin import Twins
from iplus.api.app import create_app
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.errors import ConfigurationError
from iplus.infra.broker.address import parse_broker_url
from iplus.infra.broker.embedded import EmbeddedBroker
from iplus.infra.broker.external import ExternalBroker
from iplus.infra.bus import EventBus
from iplus.infra.compute.local import LocalCompute
from iplus.infra.db.engine import Database
from iplus.infra.ports import Compute, MessageBroker, TelemetryStore
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from iplus.platform.context import Context
from iplus.portal.site import mount_portal
from iplus.security.accounts import Accounts
from iplus.security.tokens import TokenSigner


def telemetry_for(url: str, search_path: str | None = None) -> TelemetryStore:
    """The telemetry adapter for ``url``."""
    if url.startswith("duckdb://"):
        return DuckDBTelemetryStore(url)
    if url.startswith(("postgresql://", "postgres://", "postgresql+")):
        return PostgresTelemetryStore(url, search_path=search_path)
    raise ConfigurationError(f"telemetry store {url!r} is not supported: use duckdb:///path or postgresql://")


def compute_for(url: str) -> Compute:
    """The compute adapter for ``url``."""
    return LocalCompute(url)


def build_context(settings: Settings, *, search_path: str | None = None) -> Context:
    """Pick one adapter per port from the settings and wire the services on top."""
    secret = settings.resolve_secret_key()
    db = Database(settings.metadata_url, search_path=search_path)
    signer = TokenSigner(secret, timedelta(minutes=settings.access_token_minutes))
    bus = EventBus()
    registry = Registry(db)
    telemetry = telemetry_for(settings.telemetry_store_url, search_path)
    ingestor = Ingestor(telemetry, bus)
    dead_letters = DeadLetters(db, bus)
    commands = Commands(db, registry, bus)
    broker: MessageBroker
    user: str | None
    password: str | None
    if settings.broker_url.startswith("embedded://"):
        # the platform's own MQTT client logs in with a secret derived from the signing key
        platform_password = hmac.new(secret.encode(), b"iplus-mqtt-platform", hashlib.sha256).hexdigest()
        broker = EmbeddedBroker(
            settings.broker_url,
            auth=DeviceBrokerAuth(registry, platform_password),
            credentials=(PLATFORM_USER, platform_password),
        )
        user, password, shared = PLATFORM_USER, platform_password, False
    elif settings.broker_url.startswith("mqtt://"):
        address = parse_broker_url(settings.broker_url)
        user, password, shared = address.username, address.password, True
        dynsec = None
        if settings.broker_dynsec:
            if not user or not password:
                raise ConfigurationError(
                    "IPLUS_BROKER_DYNSEC needs the broker admin's login in IPLUS_BROKER_URL"
                )
            dynsec = MosquittoDynsec(address.host, address.port, user, password)
            registry.on_credentials = dynsec.sync_devices
        broker = ExternalBroker(settings.broker_url, prepare=dynsec.prepare_platform if dynsec else None)
    else:
        raise ConfigurationError(
            f"broker {settings.broker_url!r} is not supported: use embedded:// or mqtt://"
        )
    mqtt = MqttChannel(
        address=lambda: broker.address,
        username=user,
        password=password,
        registry=registry,
        ingestor=ingestor,
        dead_letters=dead_letters,
        commands=commands,
        shared=shared,
    )
    commands.deliver = mqtt.deliver_command
    return Context(
        settings=settings,
        db=db,
        telemetry=telemetry,
        broker=broker,
        compute=compute_for(settings.compute_url),
        accounts=Accounts(db, signer, timedelta(days=settings.refresh_token_days)),
        secret_key=secret,
        bus=bus,
        registry=registry,
        ingestor=ingestor,
        dead_letters=dead_letters,
        commands=commands,
        twins=Twins(db, telemetry, registry, bus, notify=mqtt.send_desired),
        mqtt=mqtt,
    )


def build_asgi(ctx: Context) -> FastAPI:
    """The web application: API under /api/v1 and the portal beside it."""
    app = create_app(ctx)
    mount_portal(app, ctx)
    return app


def main() -> None:
    """Console entry point of ``iplus``."""
    build_cli(build_context, build_asgi)()
