"""Broker, telemetry and compute adapters against real services on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import aiomqtt
import pytest

from iplus.core.errors import ConfigurationError, NotReady
from iplus.infra.broker.embedded import EmbeddedBroker
from iplus.infra.broker.external import ExternalBroker
from iplus.infra.compute.local import LocalCompute, workers_from_url
from iplus.infra.db.engine import Database
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_external_broker_is_mosquitto_on_loopback() -> None:
    broker = ExternalBroker("mqtt://127.0.0.1:1883")
    await broker.start()
    ready = await broker.ping()
    assert ready.ok and ready.backend == "mqtt"
    assert broker.describe() == "external MQTT broker at mqtt://127.0.0.1:1883"


async def test_external_broker_that_does_not_answer_is_not_ready() -> None:
    broker = ExternalBroker(f"mqtt://127.0.0.1:{_free_port()}")
    with pytest.raises(NotReady, match="does not answer"):
        await broker.start()
    assert not (await broker.ping()).ok


async def test_embedded_broker_moves_off_a_taken_port_and_relays_messages() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        broker = EmbeddedBroker(f"embedded://127.0.0.1:{taken}")
        await broker.start()
        try:
            host, port = broker.address
            assert port != taken and broker.moved_from == taken
            assert f"port {taken} is taken" in broker.describe()
            assert (await broker.ping()).ok
            async with aiomqtt.Client(host, port, identifier="sub") as sub:
                await sub.subscribe("iplus/test", qos=1)
                async with aiomqtt.Client(host, port, identifier="pub") as pub:
                    await pub.publish("iplus/test", b"hello", qos=1)
                async for message in sub.messages:
                    assert message.payload == b"hello"
                    break
        finally:
            await broker.stop()
    assert not (await broker.ping()).ok


def test_bad_broker_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="scheme must be"):
        ExternalBroker("amqp://127.0.0.1")
    with pytest.raises(ConfigurationError, match="invalid port"):
        EmbeddedBroker("embedded://127.0.0.1:99999")


async def test_duckdb_store_opens_pings_and_reports_a_locked_file(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 't.duckdb'}"
    store = DuckDBTelemetryStore(url)
    with pytest.raises(NotReady):
        await store.execute("SELECT 1")
    await store.open()
    ready = await store.ping()
    assert ready.ok and ready.detail.startswith("duckdb v")
    assert await store.execute("SELECT 40 + 2") == [(42,)]
    await store.close()
    with pytest.raises(ConfigurationError):
        DuckDBTelemetryStore("duckdb://")


async def test_local_compute_runs_in_another_process() -> None:
    import os

    compute = LocalCompute("local://?workers=1")
    try:
        assert await compute.submit(pow, 2, 10) == 1024
        assert await compute.submit(os.getpid) != os.getpid()
        assert (await compute.ping()).ok
    finally:
        await compute.close()
    for bad in ("dask://x", "local://?workers=0", "local://?workers=two"):
        with pytest.raises(ConfigurationError):
            workers_from_url(bad)


async def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await db.close()
    with pytest.raises(ConfigurationError):
        Database("mysql://x@localhost/db")
