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
from iplus.apps.registry import register_algorithms, register_scenarios
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.errors import ConfigurationError
from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.egress import EgressPolicy
from iplus.engines.stream.engine import StreamEngine
from iplus.infra.broker.address import parse_broker_url
from iplus.infra.broker.embedded import EmbeddedBroker
from iplus.infra.broker.external import ExternalBroker
from iplus.infra.bus import EventBus
from iplus.infra.compute.dask import DaskCompute
from iplus.infra.compute.local import LocalCompute
from iplus.infra.db.engine import Database
from iplus.infra.ports import Compute, MessageBroker, TelemetryStore
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from iplus.platform.analytics import Analytics
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import Orders
from iplus.platform.context import Context
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from iplus.platform.knowledge.builtin import register_builtin
from iplus.platform.knowledge.documents import Knowledge
from iplus.platform.knowledge.targets import attach_builtin_targets
from iplus.platform.models import ModelRegistry
from iplus.platform.rules import RuleService
from iplus.platform.simulation import Simulations
from iplus.platform.systems.service import Systems
from iplus.platform.training import Trainer
from iplus.portal.site import mount_portal
from iplus.security.accounts import Accounts
from iplus.security.tokens import TokenSigner
from iplus.virtual.state import TelemetryTwinSource
from iplus.virtual.taxonomy import load_taxonomy
from iplus.virtual.things import VirtualThings


def telemetry_for(url: str, search_path: str | None = None) -> TelemetryStore:
    """The telemetry adapter for ``url``."""
    if url.startswith("duckdb://"):
        return DuckDBTelemetryStore(url)
    if url.startswith(("postgresql://", "postgres://", "postgresql+")):
        return PostgresTelemetryStore(url, search_path=search_path)
    raise ConfigurationError(f"telemetry store {url!r} is not supported: use duckdb:///path or postgresql://")


def compute_for(url: str) -> Compute:
    """The compute adapter for ``url``: ``local://`` process pool, ``dask://`` or ``dask+local://``."""
    if url.startswith(("dask://", "dask+local://")):
        return DaskCompute(url)
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
    try:
        egress = EgressPolicy.parse(settings.webhook_allow)
    except ValueError as exc:
        raise ConfigurationError(f"IPLUS_WEBHOOK_ALLOW: {exc}") from exc
    actions = ActionRunner(
        send_command=RuleService.commands_sender(commands), publish=mqtt.publish, egress=egress
    )
    # anomaly rules score with the AI engine's online detectors, resolved through the model registry
    models = ModelRegistry(db)
    rules = RuleService(db, bus, StreamEngine(models.detector), actions)
    compute = compute_for(settings.compute_url)
    algorithms = AlgorithmRegistry()
    register_builtin(algorithms)
    register_algorithms(algorithms)
    register_scenarios()
    knowledge = Knowledge(db)
    attach_builtin_targets(knowledge, db, algorithms)
    twins = Twins(db, telemetry, registry, bus, notify=mqtt.send_desired)
    offers = Offers(db, load_taxonomy())
    orders = Orders(db, telemetry, bus)
    return Context(
        simulations=Simulations(db, compute, twins.state),
        offers=offers,
        orders=orders,
        systems=Systems(
            db,
            offers,
            orders,
            bus,
            sla_interval_s=settings.run_check_seconds,
            slack=settings.run_sla_slack,
        ),
        settings=settings,
        db=db,
        telemetry=telemetry,
        broker=broker,
        compute=compute,
        accounts=Accounts(db, signer, timedelta(days=settings.refresh_token_days)),
        secret_key=secret,
        bus=bus,
        registry=registry,
        ingestor=ingestor,
        dead_letters=dead_letters,
        commands=commands,
        twins=twins,
        mqtt=mqtt,
        analytics=Analytics(db, telemetry, compute, settings.var_dir / "analytics"),
        algorithms=algorithms,
        knowledge=knowledge,
        rules=rules,
        models=models,
        trainer=Trainer(telemetry, compute, models),
        virtual=VirtualThings(db, TelemetryTwinSource(telemetry)),
    )


def build_asgi(ctx: Context) -> FastAPI:
    """The web application: API under /api/v1 and the portal beside it."""
    app = create_app(ctx)
    mount_portal(app, ctx)
    return app


def main() -> None:
    """Console entry point of ``iplus``."""
    build_cli(build_context, build_asgi)()
