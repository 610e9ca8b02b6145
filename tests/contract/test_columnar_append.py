"""Messages handed over with their readings as columns: stored like any others, on every store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from iplus.access.codec import decode_batch_columns
from iplus.access.ingest import Ingestor
from iplus.access.registry import DeviceIdentity
from iplus.infra.bus import EventBus
from iplus.infra.telemetry import Message, Selection
from iplus.infra.tsdb.columns import ColumnarMessages
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from iplus.standards.wot import parse_thing_model
from tests.conftest import PG_URL

MODEL = parse_thing_model(
    {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "@type": "tm:ThingModel",
        "title": "meter",
        "properties": {"p": {"type": "number"}, "q": {"type": "number", "minimum": 0}},
    }
)
IDENTITIES = {
    f"d{i}": DeviceIdentity(f"d{i}", "org-a", "meter", "", MODEL.properties, MODEL) for i in range(4)
}
T0 = 1_764_000_000


@pytest.fixture(params=["duckdb", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "duckdb":
        s: Any = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    else:
        s = PostgresTelemetryStore(PG_URL, search_path=request.getfixturevalue("pg_schema"))
    await s.open()
    yield s
    await s.close()


def items(ids: range, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in ids:
        values = {"p": rng.uniform(-5, 5), "q": rng.uniform(0, 9)}
        if i % 3 == 0:
            del values["q"]  # messages with different numbers of readings
        out.append({"device_id": f"d{i % 4}", "msg_id": f"m{i}", "ts": T0 + i, "values": values})
    return out


def columnar(batch: list[dict[str, Any]]) -> ColumnarMessages:
    got = decode_batch_columns(batch, IDENTITIES, 0)
    assert got is not None
    return got


async def rows(store: Any) -> list[tuple[str, str, int, float]]:
    got = await store.readings(Selection("org-a"), limit=100_000)
    return sorted((r.device_id, r.key, int(r.ts.timestamp()), r.value) for r in got)


def brute(batch: list[dict[str, Any]]) -> list[tuple[str, str, int, float]]:
    return sorted((m["device_id"], k, m["ts"], v) for m in batch for k, v in m["values"].items())


async def test_columnar_messages_store_once_with_resends_in_between(store: Any) -> None:
    first = items(range(0, 60))
    assert await store.append(columnar(first)) == [True] * 60
    # ids 30..59 again (other values: not stored), 60..89 new, and 75 twice in the same batch
    again = items(range(30, 90), seed=4)
    fresh = await store.append(columnar([*again, again[45]]))
    assert fresh == [False] * 30 + [True] * 30 + [False]
    assert await rows(store) == brute(first + again[30:])
    latest = {(r.device_id, r.key): r.value for r in await store.latest(Selection("org-a"))}
    newest: dict[tuple[str, str], float] = {}
    for m in first + again[30:]:
        for k, v in m["values"].items():
            newest[(m["device_id"], k)] = v
    assert latest == newest


async def test_the_ingestor_merges_callers_with_and_without_columns(store: Any) -> None:
    ingestor = Ingestor(store, EventBus())
    heard: list[Message] = []
    ingestor.listeners.append(heard.extend)
    a, b, c = items(range(0, 40)), items(range(40, 80)), items(range(80, 90))
    # queued together, the writer takes them into one append: columns joined
    both = list(await asyncio.gather(ingestor.write(columnar(a)), ingestor.write(columnar(b))))
    assert both == [[True] * 40, [True] * 40]
    # and with a caller without columns: built reading by reading
    plain = [Message("org-a", "meter", "d9", "x1", [("p", (T0 + 500) * 1_000_000, 1.25)])]
    mixed = list(
        await asyncio.gather(
            ingestor.write(plain), ingestor.write(columnar(a[:5] + c)), ingestor.write(columnar(c))
        )
    )
    assert mixed == [[True], [False] * 5 + [True] * 10, [False] * 10]
    assert await rows(store) == sorted([*brute(a + b + c), ("d9", "p", T0 + 500, 1.25)])
    assert sorted(m.msg_id or "" for m in heard) == sorted([*(f"m{i}" for i in range(90)), "x1"])
    await ingestor.stop()


async def test_the_ingestor_says_when_its_writer_is_idle(store: Any) -> None:
    ingestor = Ingestor(store, EventBus())
    assert ingestor.idle
    writing = asyncio.create_task(ingestor.write(columnar(items(range(0, 10)))))
    await asyncio.sleep(0)  # queued, and the writer started: busy until the append is done
    assert not ingestor.idle
    assert await writing == [True] * 10
    assert ingestor.idle
    await ingestor.stop()
