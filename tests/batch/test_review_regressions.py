"""Regression tests from the security review of the analytics slice (both telemetry stores)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from iplus.core.errors import InvalidInput
from iplus.infra.tsdb import duckdb_sql
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from tests.conftest import PG_URL
from tests.contract.test_analytics_contract import dataset


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


def secret_sql(store: Any) -> str:
    """ts_stat runs the SQL text it is given: here, over every organisation's physical readings."""
    schema = getattr(store, "search_path", None) or "main"
    return f"SELECT ts_stat('SELECT to_tsvector(''simple'', device_id) FROM \"{schema}\".readings')"


async def test_functions_running_sql_text_are_refused(store: Any) -> None:
    # before the fix PostgreSQL answered org-b's device name "secret" to org-a
    with pytest.raises(InvalidInput, match="not allowed"):
        await store.query("org-a", secret_sql(store))
    for sql in (
        "SELECT ts_rewrite('a'::tsquery, 'SELECT 1')",
        "SELECT ts_stat('x') OVER ()",
        "SELECT count(*) FILTER (WHERE ts_stat('x') IS NULL) FROM readings",
        "SELECT current_query()",  # the wrapper's text names the physical schema
    ):
        with pytest.raises(InvalidInput, match="not allowed"):
            await store.query("org-a", sql)


async def test_a_trailing_semicolon_is_accepted(store: Any) -> None:
    result = await store.query("org-a", "SELECT count(*) FROM readings ;\n")
    assert result.rows == [(410,)]  # 400 numbers and 10 texts of org-a, see the contract dataset


async def test_results_larger_than_the_byte_budget_are_refused(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duckdb_sql, "MAX_RESULT_BYTES", 1_000_000)
    series = "range(2000)" if store.dialect == "duckdb" else "generate_series(1, 2000)"
    with pytest.raises(InvalidInput, match="larger than"):
        await store.query("org-a", f"SELECT repeat('x', 1000) AS s FROM {series} AS t", limit=100_000)
    small = await store.query("org-a", f"SELECT repeat('x', 100) AS s FROM {series} AS t", limit=100_000)
    assert len(small.rows) == 2000 and not small.truncated
