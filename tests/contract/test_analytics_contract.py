"""Tenant analytics SQL (``TelemetryStore.query``) on DuckDB and PostgreSQL; oracles by brute force."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Message, from_us, to_us
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from tests.conftest import PG_URL

T0 = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)


@pytest.fixture(params=["duckdb", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "duckdb":
        s: Any = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    else:
        s = PostgresTelemetryStore(PG_URL, search_path=request.getfixturevalue("pg_schema"))
    await s.open()
    await s.append(dataset())
    yield s
    await s.close()


def dataset() -> list[Message]:
    """Org A: three devices, numbers and text over 90 minutes; org B: a secret device."""
    rng = random.Random(11)
    messages = []
    for i in range(400):
        ts = to_us(T0 + timedelta(seconds=rng.uniform(0, 90 * 60)))
        readings: list[tuple[str, int, Any]] = [("temp", ts, round(rng.gauss(20, 4), 3))]
        if i % 40 == 0:
            readings.append(("state", ts, "alarm" if i % 80 else "ok"))
        messages.append(Message("org-a", "type-1", f"dev-{i % 3}", f"a{i}", readings))
    for i in range(50):
        ts = to_us(T0 + timedelta(seconds=i * 60))
        messages.append(Message("org-b", "type-9", "secret", f"b{i}", [("temp", ts, 1000.0 + i)]))
    return messages


def org_a_numbers() -> list[tuple[str, str, datetime, float]]:
    return [
        (m.device_id, k, from_us(ts), v)
        for m in dataset()
        if m.org_id == "org-a"
        for k, ts, v in m.readings
        if isinstance(v, float)
    ]


async def test_per_device_aggregates_match_brute_force(store: Any) -> None:
    result = await store.query(
        "org-a",
        "SELECT device_id, count(*) AS n, avg(value_num) AS mean, max(value_num) AS top "
        "FROM readings WHERE key = $1 GROUP BY device_id ORDER BY device_id",
        ["temp"],
    )
    assert result.columns == ["device_id", "n", "mean", "top"]
    groups: dict[str, list[float]] = defaultdict(list)
    for device, _, _, value in org_a_numbers():
        groups[device].append(value)
    expect = [(d, len(v), statistics.fmean(v), max(v)) for d, v in sorted(groups.items())]
    assert [r[0] for r in result.rows] == [e[0] for e in expect]
    for got, want in zip(result.rows, expect, strict=True):
        assert got[1] == want[1]
        assert got[2] == pytest.approx(want[2], rel=1e-12)
        assert got[3] == want[3]
    assert not result.truncated


async def test_per_minute_buckets_match_brute_force(store: Any) -> None:
    result = await store.query(
        "org-a",
        "WITH m AS (SELECT device_id, date_trunc('minute', ts) AS minute, value_num FROM readings "
        "WHERE value_num IS NOT NULL) "
        "SELECT device_id, minute, avg(value_num) AS v FROM m GROUP BY 1, 2 ORDER BY 1, 2",
        limit=100_000,
    )
    buckets: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    for device, _, ts, value in org_a_numbers():
        buckets[(device, ts.replace(second=0, microsecond=0))].append(value)
    expect = sorted((d, m, statistics.fmean(v)) for (d, m), v in buckets.items())
    assert len(result.rows) == len(expect)
    for (device, minute, value), (d, m, v) in zip(result.rows, expect, strict=True):
        assert device == d
        # DuckDB keeps naive UTC timestamps, PostgreSQL aware ones
        assert (minute if minute.tzinfo else minute.replace(tzinfo=UTC)) == m
        assert value == pytest.approx(v, rel=1e-12)


async def test_text_values_and_row_limit(store: Any) -> None:
    result = await store.query(
        "org-a", "SELECT value_txt, count(*) FROM readings WHERE key = 'state' GROUP BY 1 ORDER BY 1"
    )
    texts = [v for m in dataset() if m.org_id == "org-a" for k, _, v in m.readings if k == "state"]
    assert result.rows == [("alarm", texts.count("alarm")), ("ok", texts.count("ok"))]
    limited = await store.query("org-a", "SELECT ts FROM readings ORDER BY ts", limit=7)
    assert len(limited.rows) == 7 and limited.truncated
    all_ts = sorted(ts for _, _, ts, _ in org_a_numbers())
    assert [r[0] if r[0].tzinfo else r[0].replace(tzinfo=UTC) for r in limited.rows] == all_ts[:7]


async def test_only_the_callers_rows_are_visible(store: Any) -> None:
    total = await store.query("org-a", "SELECT count(*), count(DISTINCT device_id) FROM readings")
    assert total.rows == [(len(org_a_numbers()) + 10, 3)]
    other = await store.query("org-b", "SELECT device_id, max(value_num) FROM readings GROUP BY 1")
    assert other.rows == [("secret", 1049.0)]
    # the org parameter is bound after the user's ones: naming it yields the caller's own org only
    probe = await store.query("org-a", "SELECT DISTINCT $2 FROM readings WHERE device_id <> $1", ["x"])
    assert probe.rows == [("org-a",)]
    # a value bound as a parameter is data, never SQL
    injected = await store.query(
        "org-a", "SELECT count(*) FROM readings WHERE device_id = $1", ["' OR 1=1 --"]
    )
    assert injected.rows == [(0,)]
    nobody = await store.query("org-zzz", "SELECT count(*) FROM readings")
    assert nobody.rows == [(0,)]


ATTACKS = [
    ("SELECT * FROM latest", "not available"),
    ("SELECT * FROM messages", "not available"),
    ("SELECT * FROM main.readings", "schema-qualified"),
    ("SELECT * FROM public.readings", "schema-qualified"),
    ("SELECT org_id FROM readings", "org_id"),  # the view has no org column
    ("SELECT * FROM pg_catalog.pg_authid", "schema-qualified"),
    ("SELECT * FROM pg_shadow", "not available"),
    ("SELECT * FROM information_schema.tables", "schema-qualified"),
    ("SELECT * FROM duckdb_tables()", "not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
    ("SELECT * FROM '/etc/passwd'", "not available"),
    ("SELECT pg_read_file('/etc/passwd')", "not allowed"),
    ("SELECT current_setting('server_version')", "not allowed"),
    ("SELECT query_to_xml('select * from latest', true, true, '')", "not allowed"),
    ("SELECT * FROM query_table('latest')", "not allowed"),
    ("SELECT * FROM query('SELECT * FROM latest')", "not allowed"),
    ("WITH a AS (SELECT * FROM latest), latest AS (SELECT 1) SELECT * FROM a", "not available"),
    ("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) q, x", "not available"),
    ("WITH readings AS (SELECT * FROM latest) SELECT * FROM readings", "may not be named"),
    ("INSERT INTO readings VALUES (1)", "only SELECT"),
    ("DELETE FROM readings", "only SELECT"),
    ("DROP TABLE readings", "only SELECT"),
    ("COPY readings TO '/tmp/x.csv'", "only SELECT"),
    ("ATTACH '/tmp/x.duckdb'", "only SELECT"),
    ("PRAGMA database_list", "only SELECT"),
    ("SET search_path = 'main'", "only SELECT"),
    ("SELECT 1; SELECT * FROM latest", "exactly one statement"),
    ("SELECT 1; DROP TABLE latest", "exactly one statement"),
    ("SELECT nextval('s')", "not allowed"),
    ("SELECT * FROM readings FOR UPDATE", ""),
]


@pytest.mark.parametrize(("sql", "reason"), ATTACKS, ids=[a[0][:40] for a in ATTACKS])
async def test_attacks_are_refused(store: Any, sql: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await store.query("org-a", sql)
    assert reason in str(caught.value)


async def test_database_errors_come_back_as_invalid_input(store: Any) -> None:
    with pytest.raises(InvalidInput, match="nope"):
        await store.query("org-a", "SELECT nope FROM readings")
    with pytest.raises(InvalidInput, match=r"syntax|Parser"):
        await store.query("org-a", "SELEC 1")
    with pytest.raises(InvalidInput, match="limit"):
        await store.query("org-a", "SELECT 1", limit=0)


async def test_slow_queries_stop_at_the_time_limit(store: Any) -> None:
    slow = (
        "SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b"
        if store.dialect == "duckdb"
        else "SELECT count(*) FROM generate_series(1, 1000000000) a"
    )
    with pytest.raises(InvalidInput, match="time limit"):
        await store.query("org-a", slow, time_limit=0.3)
    assert (await store.query("org-a", "SELECT 1 AS one")).rows == [(1,)]
