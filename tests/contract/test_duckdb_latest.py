"""DuckDB keeps ``latest`` by merging stored batches lazily: reads, reopen and a crash all see the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from iplus.infra.telemetry import Message, Selection, to_us
from iplus.infra.tsdb import duckdb_store
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def batches() -> list[list[Message]]:
    """Three appends for two devices; the second sends an older value late, the third a text value."""
    at = lambda s: to_us(T0 + timedelta(seconds=s))  # noqa: E731
    return [
        [
            Message("o", "t", "d1", "a1", [("temp", at(10), 1.0)]),
            Message("o", "t", "d2", "b1", [("temp", at(5), 7.0)]),
        ],
        [
            Message("o", "t", "d1", "a0", [("temp", at(3), -1.0)]),
            Message("o", "t", "d1", "a2", [("temp", at(20), 2.0)]),
        ],
        [Message("o", "t", "d2", "b2", [("state", at(30), "on")])],
    ]


def expected() -> dict[tuple[str, str], object]:
    """The newest value per (device, key), by brute force over every message sent."""
    newest: dict[tuple[str, str], tuple[int, object]] = {}
    for batch in batches():
        for m in batch:
            for key, ts, value in m.readings:
                if (m.device_id, key) not in newest or ts >= newest[(m.device_id, key)][0]:
                    newest[(m.device_id, key)] = (ts, value)
    return {k: v for k, (_, v) in newest.items()}


async def latest_of(store: DuckDBTelemetryStore) -> dict[tuple[str, str], object]:
    return {(r.device_id, r.key): r.value for r in await store.latest(Selection("o"))}


async def test_latest_read_between_appends_sees_every_stored_batch(tmp_path: Path) -> None:
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    await store.open()
    try:
        first, *rest = batches()
        await store.append(first)
        assert await latest_of(store) == {("d1", "temp"): 1.0, ("d2", "temp"): 7.0}
        for batch in rest:
            await store.append(batch)
        assert await latest_of(store) == expected()
    finally:
        await store.close()


async def test_latest_survives_a_clean_close(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 't.duckdb'}"
    store = DuckDBTelemetryStore(url)
    await store.open()
    for batch in batches():
        await store.append(batch)
    await store.close()  # nothing read latest: the close merges what waits
    again = DuckDBTelemetryStore(url)
    await again.open()
    try:
        rows = await again.execute("SELECT count(*) FROM latest")
        assert rows[0][0] == len(expected())
        assert await latest_of(again) == expected()
    finally:
        await again.close()


async def test_latest_is_rebuilt_after_a_crash(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 't.duckdb'}"
    store = DuckDBTelemetryStore(url)
    await store.open()
    for batch in batches():
        await store.append(batch)
    # a crash: the process ends without the clean close, the pending batches are lost
    store._conn.close()
    store._conn = None
    again = DuckDBTelemetryStore(url)
    await again.open()
    try:
        assert await latest_of(again) == expected()
    finally:
        await again.close()


async def test_many_pending_readings_are_merged_without_a_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(duckdb_store, "MAX_PENDING_READINGS", 2)
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    await store.open()
    try:
        for batch in batches():
            await store.append(batch)
        rows = await store.execute("SELECT device_id, key FROM latest ORDER BY 1, 2")
        # the first two batches (2 + 2 readings) reached the limit and were merged; the third waits
        assert rows == [("d1", "temp"), ("d2", "temp")]
        assert await latest_of(store) == expected()
    finally:
        await store.close()
