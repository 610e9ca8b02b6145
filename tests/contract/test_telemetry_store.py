"""One contract for the telemetry store, run on DuckDB and on PostgreSQL; oracles by brute force."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Message, Selection, from_us, to_us
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from tests.conftest import PG_URL

T0 = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # the data crosses midnight: two PG partitions


@pytest.fixture(params=["duckdb", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "duckdb":
        s: object = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    else:
        s = PostgresTelemetryStore(PG_URL, search_path=request.getfixturevalue("pg_schema"))
    await s.open()  # type: ignore[attr-defined]
    yield s
    await s.close()  # type: ignore[attr-defined]


def dataset(seed: int = 7) -> list[Message]:
    """Three devices, two numeric keys and a text key, random times over four hours."""
    rng = random.Random(seed)
    messages = []
    for i in range(600):
        device = f"dev-{i % 3}"
        ts = to_us(T0 + timedelta(seconds=rng.uniform(0, 4 * 3600)))
        readings = [("temp", ts, round(rng.gauss(20, 5), 3)), ("hum", ts, round(rng.uniform(30, 90), 3))]
        if i % 50 == 0:
            readings.append(("state", ts, "ok" if i % 100 else "alarm"))
        messages.append(Message("org-a", "type-1", device, f"m{i}", readings))
    messages.append(Message("org-b", "type-9", "other", "m0", [("temp", to_us(T0), 99.0)]))
    return messages


async def test_append_is_idempotent_by_message_id(store) -> None:
    msgs = dataset()
    fresh = await store.append(msgs)
    assert all(fresh)
    again = await store.append(
        [*msgs[:10], Message("org-a", "type-1", "dev-0", None, [("temp", to_us(T0), 1.0)])]
    )
    assert again == [False] * 10 + [True]  # resends stored once; id-less messages always stored
    # a batch repeating an id stores it once
    dup = Message("org-a", "type-1", "dev-1", "fresh", [("temp", to_us(T0), 2.0)])
    assert await store.append([dup, dup]) == [True, False]
    rows = await store.readings(Selection("org-a", keys=["temp"]), limit=100_000)
    assert len(rows) == 600 + 1 + 1


async def test_raw_range_latest_and_tenancy(store) -> None:
    msgs = dataset()
    await store.append(msgs)
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    got = await store.readings(Selection("org-a", ["dev-1"], ["temp"], start, end), limit=100_000)
    expect = sorted(
        (from_us(ts), v)
        for m in msgs
        if m.org_id == "org-a" and m.device_id == "dev-1"
        for k, ts, v in m.readings
        if k == "temp" and start <= from_us(ts) < end
    )
    assert [(r.ts, r.value) for r in got] == expect
    newest = await store.readings(Selection("org-a", ["dev-1"], ["temp"]), limit=1, newest_first=True)
    latest = {(r.device_id, r.key): r for r in await store.latest(Selection("org-a"))}
    assert latest[("dev-1", "temp")].ts == newest[0].ts
    assert latest[("dev-1", "temp")].value == newest[0].value
    assert {k for _, k in latest} == {"temp", "hum", "state"}
    assert ("other", "temp") not in latest  # another organisation's device
    assert await store.readings(Selection("org-a", ["other"])) == []
    # older data arriving late does not move the latest value back
    await store.append(
        [Message("org-a", "type-1", "dev-1", None, [("temp", to_us(T0 - timedelta(days=1)), -50.0)])]
    )
    after = {(r.device_id, r.key): r for r in await store.latest(Selection("org-a", ["dev-1"]))}
    assert after[("dev-1", "temp")].value == newest[0].value


async def test_values_keep_their_types(store) -> None:
    ts = to_us(T0)
    await store.append(
        [Message("o", "t", "d", None, [("n", ts, 1.5), ("s", ts, "open"), ("b", ts, True), ("f", ts, False)])]
    )
    values = {r.key: r.value for r in await store.readings(Selection("o"))}
    assert values == {"n": 1.5, "s": "open", "b": True, "f": False}


@pytest.mark.parametrize("group", [False, True])
async def test_bucket_aggregates_match_brute_force(store, group: bool) -> None:
    msgs = dataset()
    await store.append(msgs)
    width = 900  # 15 minutes
    rows = await store.aggregate(
        Selection("org-a", ["dev-0", "dev-2"], ["temp"]),
        bucket_seconds=width,
        aggregates=["count", "min", "max", "avg", "sum", "first", "last"],
        group=group,
    )
    buckets: dict[tuple[datetime, str | None], list[tuple[int, float]]] = defaultdict(list)
    for m in msgs:
        if m.org_id != "org-a" or m.device_id not in ("dev-0", "dev-2"):
            continue
        for k, ts, v in m.readings:
            if k == "temp":
                start = from_us(ts // (width * 1_000_000) * width * 1_000_000)
                buckets[(start, None if group else m.device_id)].append((ts, float(v)))  # type: ignore[arg-type]
    assert [(r.bucket, r.device_id) for r in rows] == sorted(buckets, key=lambda b: (b[0], b[1] or ""))
    for r in rows:
        series = sorted(buckets[(r.bucket, r.device_id)])
        values = [v for _, v in series]
        assert r.values["count"] == len(values)
        assert r.values["min"] == min(values) and r.values["max"] == max(values)
        assert r.values["sum"] == pytest.approx(sum(values))
        assert r.values["avg"] == pytest.approx(statistics.fmean(values))
        assert r.values["first"] == series[0][1] and r.values["last"] == series[-1][1]


async def test_bad_queries_are_refused(store) -> None:
    with pytest.raises(InvalidInput, match="unknown aggregates median"):
        await store.aggregate(Selection("o"), bucket_seconds=60, aggregates=["median"])
    with pytest.raises(InvalidInput, match="bucket width"):
        await store.aggregate(Selection("o"), bucket_seconds=0.5, aggregates=["avg"])
    with pytest.raises(InvalidInput, match="end of the time range"):
        await store.readings(Selection("o", start=T0, end=T0))


async def test_retention_deletes_one_type_only(store) -> None:
    old, new = to_us(T0 - timedelta(days=40)), to_us(T0)
    await store.append(
        [
            Message("o", "short", "a", None, [("x", old, 1.0), ("x", new, 2.0)]),
            Message("o", "long", "b", None, [("x", old, 3.0)]),
        ]
    )
    assert await store.delete_before("o", "short", T0 - timedelta(days=30)) == 1
    left = sorted((r.device_id, r.value) for r in await store.readings(Selection("o")))
    assert left == [("a", 2.0), ("b", 3.0)]


async def test_export_table_has_every_selected_reading(store) -> None:
    msgs = dataset()
    await store.append(msgs)
    table = await store.export(Selection("org-a", ["dev-0"]))
    expected = sum(len(m.readings) for m in msgs if m.org_id == "org-a" and m.device_id == "dev-0")
    assert table.num_rows == expected
    assert table.column_names == ["device_id", "key", "ts", "num", "txt", "flag"]
