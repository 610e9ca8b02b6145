"""Telemetry store on an embedded DuckDB file; DuckDB calls run in a worker thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from iplus.core.errors import ConfigurationError, NotReady
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check


def path_from_url(url: str) -> str:
    """``duckdb:///path/to/file.duckdb`` or ``duckdb:///:memory:`` -> the path DuckDB opens."""
    prefix = "duckdb:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(f"telemetry URL {url!r} must look like duckdb:///path/file.duckdb")
    return url[len(prefix) :]


class DuckDBTelemetryStore:
    """The embedded telemetry store: one DuckDB file opened by this process."""

    name = "telemetry"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = path_from_url(url)
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the DuckDB file (created if missing)."""
        import duckdb  # heavy: imported when the store opens, not when the CLI starts

        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await asyncio.to_thread(duckdb.connect, self.path)
        except duckdb.IOException as exc:
            raise NotReady(
                f"cannot open telemetry store {self.path}: {exc} "
                "(is another iplus process using the same file?)"
            ) from exc

    async def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows; statements are serialised on one connection."""
        if self._conn is None:
            raise NotReady("telemetry store is not open")
        async with self._lock:
            return await asyncio.to_thread(self._run, sql, params or [])

    def _run(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []

    async def ping(self) -> Readiness:
        """Run ``SELECT 1`` on the DuckDB file."""

        async def check() -> str:
            rows = await self.execute("SELECT version()")
            return f"duckdb {rows[0][0]} {self.path}"

        return await timed_check("duckdb", check)

    async def close(self) -> None:
        """Close the DuckDB file."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)
