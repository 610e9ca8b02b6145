"""Tenant analytics SQL: the statement guard (shared by both stores) and its DuckDB runner.

Isolation does not rest on string checks. The user's statement is parsed by DuckDB's own parser
(``json_serialize_sql``, a PostgreSQL-derived grammar) and its syntax tree is walked: it must be one
SELECT whose every table reference is the org's ``readings`` view or a CTE the statement itself
defined in scope, with no schema-qualified names, no table functions but ``range``/``generate_series``
/``unnest`` and no function that reads settings, files or other SQL. The accepted text is then
wrapped, never edited: ``WITH readings AS (SELECT ... FROM main.readings WHERE org_id = $n) SELECT *
FROM (<user sql>) AS q`` where ``$n`` is a bound parameter holding the caller's organisation.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from iplus.core.errors import InvalidInput

VIEW = "readings"
VIEW_COLUMNS = ("device_id", "type_id", "key", "ts", "value_num", "value_txt", "value_bool")
MAX_QUERY_ROWS = 1_000_000
MAX_SQL_CHARS = 20_000
MAX_TIMEOUT_S = 600.0
MAX_RESULT_BYTES = 256 * 2**20
FETCH_BATCH = 1024
_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# functions that read settings, files, the catalog or run SQL given as a string
_DENIED_FUNCTIONS = frozenset(
    {
        "current_setting",
        "set_config",
        "getenv",
        "getvariable",
        "query",
        "query_table",
        "glob",
        "dblink",
        "version",
        "current_database",
        "current_schema",
        "current_schemas",
        "current_user",
        "session_user",
        "user",
        "inet_server_addr",
        "inet_server_port",
        "txid_current",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "has_table_privilege",
        "to_regclass",
        # PostgreSQL functions that run a query given as text (ts_stat would read every org's rows)
        "ts_stat",
        "ts_rewrite",
        # the running statement's text names the physical schema; index maintenance writes
        "current_query",
        "write_log",
        "brin_summarize_new_values",
        "brin_summarize_range",
        "brin_desummarize_range",
        "gin_clean_pending_list",
        "currtid",
        "currtid2",
    }
)
_DENIED_PREFIXES = (
    "pg_",
    "lo_",
    "read_",
    "duckdb_",
    "parquet_",
    "sniff_",
    "json_serialize",
    "json_execute",
    "dblink",
    "__internal",
)
_PARSER_LOCK = threading.Lock()
_parser: Any = None
_TABLE_REF_TYPES = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST", "TABLE_FUNCTION"})


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of an analytics query; ``truncated`` when rows stopped at the limit."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


FIXED_SIZE = (int, float, bool, datetime, date, time, timedelta, Decimal, UUID)


def value_bytes(value: Any) -> int:
    """A rough size of one result value: text and bytes by length, containers by their items."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple):
        return 8 + sum(value_bytes(v) for v in value)
    if isinstance(value, dict):
        return 8 + sum(value_bytes(k) + value_bytes(v) for k, v in value.items())
    return 8


class ResultBudget:
    """Counts fetched result bytes; refuses a result larger than ``MAX_RESULT_BYTES`` (memory bound)."""

    def __init__(self) -> None:
        self.used = 0

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """Count ``rows``; InvalidInput once the total passes the budget."""
        if not rows:
            return
        for i in range(len(rows[0])):
            # a column holds one type: numbers and times cost 8 bytes each, no need to look at them all
            sample = next((row[i] for row in rows if row[i] is not None), None)
            if sample is None or isinstance(sample, FIXED_SIZE):
                self.used += 8 * len(rows)
            elif isinstance(sample, str):
                self.used += sum(len(row[i]) for row in rows if row[i] is not None) + 8 * len(rows)
            else:
                self.used += sum(value_bytes(row[i]) for row in rows)
        if self.used > MAX_RESULT_BYTES:
            raise InvalidInput(
                f"the result is larger than {MAX_RESULT_BYTES // 2**20} MB: aggregate more or lower the limit"
            )


def check_limits(limit: int, time_limit: float) -> None:
    """Refuse a row limit or a time limit outside the allowed ranges."""
    if not 1 <= limit <= MAX_QUERY_ROWS:
        raise InvalidInput(f"limit must be between 1 and {MAX_QUERY_ROWS}")
    if not 0 < time_limit <= MAX_TIMEOUT_S:
        raise InvalidInput(f"the time limit must be between 0 and {MAX_TIMEOUT_S:.0f} seconds")


def _parse(sql: str) -> tuple[str, dict[str, Any]]:
    """The one statement's text (no trailing semicolon) and its syntax tree, or InvalidInput."""
    import duckdb

    if not sql.strip():
        raise InvalidInput("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInput(f"the query is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInput(f"SQL syntax error: {exc}") from exc
    if len(statements) != 1:
        raise InvalidInput(f"send exactly one statement (got {len(statements)})")
    [statement] = statements
    if statement.type != duckdb.StatementType.SELECT:
        raise InvalidInput(f"only SELECT queries are allowed, not {statement.type.name}")
    # a trailing semicolon would end the wrapping query early
    text = statement.query.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    with _PARSER_LOCK:
        global _parser
        if _parser is None:
            # an empty in-memory database: it only parses, it never sees data
            _parser = duckdb.connect(":memory:")
        raw = _parser.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree: dict[str, Any] = json.loads(raw[0]) if raw else {"error": True, "error_message": "no parse tree"}
    if tree.get("error"):
        raise InvalidInput(f"only plain SELECT queries are allowed: {tree.get('error_message')}")
    return text, tree["statements"][0]["node"]


class _Walker:
    """Walks a DuckDB syntax tree, refusing anything outside the org's view and pure functions."""

    def walk(self, node: Any, scope: frozenset[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item, scope)
            return
        if not isinstance(node, dict):
            return
        if "class" in node:
            self._expression(node)
        elif "alias" in node and "sample" in node and "type" in node:
            self._table_ref(node, scope)
        elif str(node.get("type", "")).endswith("_NODE"):
            scope = self._query_node(node, scope)
        for key, value in node.items():
            if key != "cte_map":
                self.walk(value, scope)

    def _query_node(self, node: dict[str, Any], scope: frozenset[str]) -> frozenset[str]:
        if node.get("type") == "RECURSIVE_CTE_NODE":
            scope = scope | {str(node.get("cte_name", "")).lower()}
        entries = (node.get("cte_map") or {}).get("map") or []
        seen = scope
        for entry in entries:
            name = str(entry["key"]).lower()
            if name == VIEW:
                raise InvalidInput(f"a CTE may not be named {VIEW!r}: that name is the organisation's data")
            # a CTE sees the ones before it (and itself, when recursive): never a later one, which
            # the database would resolve to a real table of that name
            self.walk(entry["value"], seen)
            seen = seen | {name}
        return seen

    def _table_ref(self, node: dict[str, Any], scope: frozenset[str]) -> None:
        kind = node["type"]
        if kind not in _TABLE_REF_TYPES:
            raise InvalidInput(f"{kind.lower().replace('_', ' ')} is not allowed in analytics queries")
        if kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if node.get("schema_name") or node.get("catalog_name"):
                raise InvalidInput(f"table {name!r}: schema-qualified names are not allowed; query {VIEW!r}")
            if name.lower() != VIEW and name.lower() not in scope:
                raise InvalidInput(
                    f"table {name!r} is not available: analytics queries read only the {VIEW!r} view "
                    f"({', '.join(VIEW_COLUMNS)}) and CTEs they define"
                )
            if node.get("at_clause"):
                raise InvalidInput("time-travel clauses are not allowed")
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in _TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
                raise InvalidInput(
                    f"table function {name!r} is not allowed (only {', '.join(sorted(_TABLE_FUNCTIONS))})"
                )

    @staticmethod
    def _expression(node: dict[str, Any]) -> None:
        # window functions (``f(...) OVER ()``) name a function too: PostgreSQL runs any of them
        if node.get("class") not in ("FUNCTION", "WINDOW"):
            return
        name = str(node.get("function_name", "")).lower()
        path = (node.get("qualified_name") or {}).get("path") or []
        if node.get("schema") or node.get("catalog") or len(path) > 1:
            raise InvalidInput(f"function {name!r}: schema-qualified function names are not allowed")
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES) or "xml" in name:
            raise InvalidInput(f"function {name!r} is not allowed in analytics queries")


def check_select(sql: str) -> str:
    """Validate a tenant's query; returns its single statement's text, else raises InvalidInput."""
    text, tree = _parse(sql)
    _Walker().walk(tree, frozenset())
    return text


def count_params(params: Sequence[Any]) -> int:
    """The number of user parameters (``$1``..``$n``); the org is bound as ``$n+1``."""
    if len(params) > 100:
        raise InvalidInput("at most 100 query parameters")
    return len(params)


def wrap(text: str, physical: str, org_param: str, columns: str) -> str:
    """The accepted text, untouched, inside a query whose ``readings`` is the org's rows only."""
    return (
        f"WITH {VIEW} AS (SELECT {columns} FROM {physical} WHERE org_id = {org_param}) "  # noqa: S608
        f"SELECT * FROM (\n{text}\n) AS q"
    )


_DUCK_COLUMNS = "device_id, type_id, key, ts, num AS value_num, txt AS value_txt, flag AS value_bool"


def duckdb_query(
    cursor: Any, org_id: str, sql: str, params: Sequence[Any], limit: int, time_limit: float
) -> QueryResult:
    """Run a checked tenant query on ``cursor`` (a connection of its own, closed here) with a time limit."""
    import duckdb

    check_limits(limit, time_limit)
    text = check_select(sql)
    n = count_params(params)
    statement = wrap(text, "main.readings", f"${n + 1}", _DUCK_COLUMNS)
    # a connection of its own: interrupt() stops this query only, and ingest is not blocked
    timer = threading.Timer(time_limit, cursor.interrupt)
    timer.start()
    try:
        result = cursor.execute(statement, [*params, org_id])
        columns = [d[0] for d in result.description or []]
        rows: list[tuple[Any, ...]] = []
        budget = ResultBudget()
        # in batches, counting bytes: a million rows of wide text must not exhaust the server's memory
        while len(rows) <= limit:
            batch = result.fetchmany(min(FETCH_BATCH, limit + 1 - len(rows)))
            if not batch:
                break
            budget.add(batch)
            rows.extend(batch)
    except duckdb.InterruptException as exc:
        raise InvalidInput(f"the query ran longer than its {time_limit:g} s time limit") from exc
    except duckdb.Error as exc:
        raise InvalidInput(f"query failed: {exc}") from exc
    finally:
        timer.cancel()
        cursor.close()
    return QueryResult(columns, list(rows[:limit]), len(rows) > limit)


async def run_duckdb_query(
    store: Any, org_id: str, sql: str, params: Sequence[Any], limit: int, time_limit: float
) -> QueryResult:
    """The DuckDB store's ``query``: a cursor taken under the store's lock, the query run outside it."""
    cursor = await store._call(lambda: store._conn.cursor())
    return await asyncio.to_thread(duckdb_query, cursor, org_id, sql, list(params), limit, time_limit)
