"""Analytics benchmark: a per-device per-minute average through the platform vs raw DuckDB.

The platform path is ``TelemetryStore.query`` (the engine behind ``POST /api/v1/analytics/query``):
parse and check the SQL, wrap it in the org's ``readings`` view, run it on a fresh cursor with a
time limit, fetch the rows. The baseline runs the same aggregate, written against the physical
table with ``WHERE org_id = ?``, on the same DuckDB connection, fetching the same rows.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from bench.report import row
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore

READINGS = int(os.environ.get("BENCH_ANALYTICS_READINGS", "2000000"))
DEVICES = 100
SECONDS = 24 * 3600  # one day: 1,440 minutes x 100 devices = 144,000 result rows
PLATFORM_SQL = (
    "SELECT device_id, time_bucket(INTERVAL 1 MINUTE, ts) AS minute, avg(value_num) AS mean "
    "FROM readings WHERE key = 'temp' GROUP BY ALL ORDER BY device_id, minute"
)
DIRECT_SQL = (
    "SELECT device_id, time_bucket(INTERVAL 1 MINUTE, ts) AS minute, avg(num) AS mean "
    "FROM readings WHERE org_id = ? AND key = 'temp' GROUP BY ALL ORDER BY device_id, minute"
)


def readings(org: str, n: int, seed: int) -> Any:
    """``n`` temperatures of ``DEVICES`` devices spread over one day, in the store's column order."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-11-28T00:00:00", "us")
    ts = t0 + (rng.uniform(0, SECONDS, n) * 1e6).astype("timedelta64[us]")
    devices = np.array([f"dev-{i}" for i in range(DEVICES)])[rng.integers(0, DEVICES, n)]
    return pa.table(
        {
            "org_id": pa.array([org] * n, pa.string()),
            "type_id": pa.array(["t"] * n, pa.string()),
            "device_id": pa.array(devices, pa.string()),
            "key": pa.array(["temp"] * n, pa.string()),
            "ts": pa.array(ts, pa.timestamp("us")),
            "num": pa.array(rng.normal(20, 5, n), pa.float64()),
            "txt": pa.nulls(n, pa.string()),
            "flag": pa.nulls(n, pa.bool_()),
        }
    )


async def timed(fn: Callable[[], Awaitable[Any]], repeats: int = 5) -> tuple[float, Any]:
    """Median seconds of ``repeats`` runs after one warm-up, and the last result."""
    result = await fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def main() -> None:
    """Load the readings, time both paths, print them with the ratio."""
    with tempfile.TemporaryDirectory() as folder:
        store = DuckDBTelemetryStore(f"duckdb:///{Path(folder) / 'bench.duckdb'}")
        await store.open()
        conn: Any = store._conn  # the baseline uses the very same connection
        for org, n, seed in (("org-a", READINGS, 1), ("org-b", READINGS // 10, 2)):
            batch = readings(org, n, seed)
            conn.register("batch", batch)
            conn.execute("INSERT INTO readings SELECT * FROM batch")
            conn.unregister("batch")

        async def platform() -> Any:
            return await store.query("org-a", PLATFORM_SQL, limit=1_000_000, time_limit=120)

        async def direct() -> Any:
            return await asyncio.to_thread(lambda: conn.execute(DIRECT_SQL, ["org-a"]).fetchall())

        t_platform, got = await timed(platform)
        t_direct, expect = await timed(direct)
        # parallel aggregation sums in any order: the last bits of an average may differ
        assert [r[:2] for r in got.rows] == [r[:2] for r in expect], "the two paths disagree"
        assert all(math.isclose(a[2], b[2], rel_tol=1e-9) for a, b in zip(got.rows, expect, strict=True))
        print(f"analytics: per-device per-minute avg over {READINGS:,} readings -> {len(expect):,} rows")
        row("aggregate query, median (lower is better)", t_platform * 1000, t_direct * 1000, "ms", "duckdb")
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
