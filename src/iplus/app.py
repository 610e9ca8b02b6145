"""Bootstrap: settings -> adapters (picked by URL) -> services -> API, portal and CLI."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from iplus.api.app import create_app
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.errors import ConfigurationError
from iplus.infra.broker.embedded import EmbeddedBroker
from iplus.infra.broker.external import ExternalBroker
from iplus.infra.compute.local import LocalCompute
from iplus.infra.db.engine import Database
from iplus.infra.ports import Compute, MessageBroker, TelemetryStore
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.platform.context import Context
from iplus.portal.site import mount_portal
from iplus.security.accounts import Accounts
from iplus.security.tokens import TokenSigner


def telemetry_for(url: str) -> TelemetryStore:
    """The telemetry adapter for ``url``."""
    if url.startswith("duckdb://"):
        return DuckDBTelemetryStore(url)
    raise ConfigurationError(f"telemetry store {url!r} is not supported: use duckdb:///path")


def broker_for(url: str) -> MessageBroker:
    """The broker adapter for ``url``."""
    if url.startswith("embedded://"):
        return EmbeddedBroker(url)
    if url.startswith("mqtt://"):
        return ExternalBroker(url)
    raise ConfigurationError(f"broker {url!r} is not supported: use embedded:// or mqtt://")


def compute_for(url: str) -> Compute:
    """The compute adapter for ``url``."""
    return LocalCompute(url)


def build_context(settings: Settings, *, search_path: str | None = None) -> Context:
    """Pick one adapter per port from the settings and wire the services on top."""
    secret = settings.resolve_secret_key()
    db = Database(settings.metadata_url, search_path=search_path)
    signer = TokenSigner(secret, timedelta(minutes=settings.access_token_minutes))
    return Context(
        settings=settings,
        db=db,
        telemetry=telemetry_for(settings.telemetry_store_url),
        broker=broker_for(settings.broker_url),
        compute=compute_for(settings.compute_url),
        accounts=Accounts(db, signer, timedelta(days=settings.refresh_token_days)),
        secret_key=secret,
    )


def build_asgi(ctx: Context) -> FastAPI:
    """The web application: API under /api/v1 and the portal beside it."""
    app = create_app(ctx)
    mount_portal(app, ctx)
    return app


def main() -> None:
    """Console entry point of ``iplus``."""
    build_cli(build_context, build_asgi)()
