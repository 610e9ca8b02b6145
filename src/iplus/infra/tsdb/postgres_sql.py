"""Tenant analytics SQL on the PostgreSQL store: checked, wrapped, run read-only with a time limit.

Beyond the statement guard shared with DuckDB (``duckdb_sql.check_select``), the query runs in a
``READ ONLY`` transaction with ``statement_timeout`` and ``search_path`` set to nothing, so that any
unqualified name the guard might miss resolves to no iplus table at all; the org's rows come from a
CTE over the schema-qualified physical table, filtered by a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iplus.core.errors import InvalidInput
from iplus.infra.tsdb.duckdb_sql import (
    FETCH_BATCH,
    QueryResult,
    ResultBudget,
    check_limits,
    check_select,
    count_params,
    wrap,
)

_PG_COLUMNS = "device_id, type_id, key, ts, num AS value_num, txt AS value_txt, flag AS value_bool"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def run_postgres_query(
    store: Any, org_id: str, sql: str, params: Sequence[Any], limit: int, time_limit: float
) -> QueryResult:
    """The PostgreSQL store's ``query``: guard, wrap, then a read-only transaction with a time limit."""
    import asyncpg

    check_limits(limit, time_limit)
    text = check_select(sql)
    n = count_params(params)
    async with store._conn() as conn:
        # the physical schema is the connection's own (the store's search_path), looked up before
        # the search path is emptied for the user's statement
        schema = await conn.fetchval("SELECT current_schema()")
        statement = wrap(text, f"{_ident(schema)}.readings", f"${n + 1}", _PG_COLUMNS)
        try:
            async with conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {int(time_limit * 1000)}")
                await conn.execute("SET LOCAL search_path = ''")
                prepared = await conn.prepare(statement)
                columns = [a.name for a in prepared.get_attributes()]
                cursor = await prepared.cursor(*params, org_id)
                records: list[Any] = []
                budget = ResultBudget()
                while len(records) <= limit:
                    batch = await cursor.fetch(min(FETCH_BATCH, limit + 1 - len(records)))
                    if not batch:
                        break
                    budget.add(batch)
                    records.extend(batch)
        except asyncpg.QueryCanceledError as exc:
            raise InvalidInput(f"the query ran longer than its {time_limit:g} s time limit") from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise InvalidInput(f"query failed: {exc}") from exc
        except (TypeError, ValueError, OverflowError) as exc:  # asyncpg refusing a parameter value
            raise InvalidInput(f"query parameters do not fit the query: {exc}") from exc
    rows = [tuple(r) for r in records]
    return QueryResult(columns, rows[:limit], len(rows) > limit)
