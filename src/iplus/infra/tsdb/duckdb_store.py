"""Telemetry store on an embedded DuckDB file; DuckDB calls run in one worker thread at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import ConfigurationError, NotReady
from iplus.infra.ports import Readiness
from iplus.infra.telemetry import (
    BucketRow,
    Message,
    Reading,
    Selection,
    fresh_messages,
    join_value,
    split_value,
)
from iplus.infra.timing import timed_check
from iplus.infra.tsdb.columns import ColumnarMessages, ReadingColumns
from iplus.infra.tsdb.duckdb_sql import QueryResult, run_duckdb_query
from iplus.infra.tsdb.sql import check_aggregates, check_bucket, check_limit, where

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS readings (
        org_id VARCHAR NOT NULL, type_id VARCHAR NOT NULL, device_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, num DOUBLE, txt VARCHAR, flag BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS messages (
        device_id VARCHAR NOT NULL, msg_id VARCHAR NOT NULL, received TIMESTAMP NOT NULL,
        PRIMARY KEY (device_id, msg_id))""",
    """CREATE TABLE IF NOT EXISTS latest (
        org_id VARCHAR NOT NULL, type_id VARCHAR NOT NULL, device_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, num DOUBLE, txt VARCHAR, flag BOOLEAN,
        PRIMARY KEY (device_id, key))""",
    # whether ``latest`` was brought up to date when the file was last closed (see _merge_latest)
    "CREATE TABLE IF NOT EXISTS latest_state (clean BOOLEAN NOT NULL)",
]

_INSERT_READINGS = "INSERT INTO readings SELECT * FROM batch"
# newest value per (device, key) of the batch, computed by DuckDB, merged into latest; MERGE costs
# about two thirds of the equivalent INSERT ... ON CONFLICT DO UPDATE
_MERGE_LATEST = (
    "MERGE INTO latest USING (SELECT arg_max(org_id, ts) AS org_id, arg_max(type_id, ts) AS type_id, "
    "device_id, key, max(ts) AS ts, "
    "arg_max(num, ts) AS num, arg_max(txt, ts) AS txt, arg_max(flag, ts) AS flag "
    "FROM batch GROUP BY device_id, key) AS b "
    "ON latest.device_id = b.device_id AND latest.key = b.key "
    "WHEN MATCHED AND b.ts >= latest.ts THEN UPDATE SET org_id = b.org_id, "
    "type_id = b.type_id, ts = b.ts, num = b.num, txt = b.txt, flag = b.flag "
    "WHEN NOT MATCHED THEN INSERT (org_id, type_id, device_id, key, ts, num, txt, flag) "
    "VALUES (b.org_id, b.type_id, b.device_id, b.key, b.ts, b.num, b.txt, b.flag)"
)

# after a crash, ``latest`` is rebuilt from ``readings``: the newest value per (device, key)
_REBUILD_LATEST = (
    "DELETE FROM latest; INSERT INTO latest SELECT arg_max(org_id, ts), arg_max(type_id, ts), "
    "device_id, key, max(ts), arg_max(num, ts), arg_max(txt, ts), arg_max(flag, ts) "
    "FROM readings GROUP BY device_id, key"
)
# merge the pending batches at once when this many readings wait, to bound memory
MAX_PENDING_READINGS = 200_000

_AGG_SQL = {
    "count": "count(*)",
    "min": "min(num)",
    "max": "max(num)",
    "avg": "avg(num)",
    "sum": "sum(num)",
    "first": "arg_min(num, ts)",
    "last": "arg_max(num, ts)",
}


def path_from_url(url: str) -> str:
    """``duckdb:///path/to/file.duckdb`` or ``duckdb:///:memory:`` -> the path DuckDB opens."""
    prefix = "duckdb:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(f"telemetry URL {url!r} must look like duckdb:///path/file.duckdb")
    return url[len(prefix) :]


def _naive(ts: datetime) -> datetime:
    return as_utc(ts).replace(tzinfo=None)


class DuckDBTelemetryStore:
    """The embedded telemetry store: one DuckDB file opened by this process."""

    name = "telemetry"
    dialect = "duckdb"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = path_from_url(url)
        self._conn: Any = None
        self._lock = asyncio.Lock()
        # stored readings whose newest values are not yet merged into ``latest``: merging costs about
        # as much as the append itself, and one merge of many batches costs about as much as one of a
        # single batch, so it runs before ``latest`` is read, when many wait, and when the file closes
        self._pending: list[Any] = []
        self._pending_rows = 0

    async def open(self) -> None:
        """Open the DuckDB file (created if missing) and create the tables."""
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
        for statement in SCHEMA:
            await self.execute(statement)
        await self._call(self._recover_latest)
        # the first append would otherwise pay about 1.5 s for DuckDB's Arrow scan set-up
        await self._call(self._warm_up)

    def _recover_latest(self) -> None:
        """Rebuild ``latest`` if the file was not closed cleanly, then mark it open (not clean)."""
        rows = self._conn.execute("SELECT clean FROM latest_state").fetchall()
        if rows and not rows[0][0]:
            # batches waiting to be merged were lost with the process: recompute from readings
            self._conn.execute(_REBUILD_LATEST)
        # a file without the row was written by a version that kept latest up to date on every append
        self._conn.execute("DELETE FROM latest_state; INSERT INTO latest_state VALUES (false)")

    def _merge_latest(self) -> None:
        """Merge the pending batches' newest values into ``latest`` in one statement."""
        if not self._pending:
            return
        import pyarrow as pa

        batch = pa.concat_tables(self._pending)  # noqa: F841 - found by DuckDB by its local name
        self._conn.execute(_MERGE_LATEST)
        self._pending.clear()
        self._pending_rows = 0

    def _warm_up(self) -> None:
        import pyarrow as pa

        self._conn.register("warm_up", pa.table({"x": [1]}))
        self._conn.execute("SELECT count(*) FROM warm_up").fetchall()
        self._conn.unregister("warm_up")

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._conn is None:
            raise NotReady("telemetry store is not open")
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    async def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows."""
        return await self._call(self._run, sql, params or [])  # type: ignore[no-any-return]

    def _run(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []

    # writes ------------------------------------------------------------------------------
    async def append(self, messages: Sequence[Message]) -> list[bool]:
        """Store each message whole, once; returns for each whether it was new."""
        # columnar messages keep their columns: the Arrow table is built from them, not per reading
        given = messages if isinstance(messages, ColumnarMessages) else list(messages)
        return await self._call(self._append, given)  # type: ignore[no-any-return]

    def _append(self, messages: list[Message]) -> list[bool]:
        import duckdb

        fresh = fresh_messages(messages, set())  # repeats inside this batch first
        candidates = [m for m, new in zip(messages, fresh, strict=True) if new]
        # DuckDB finds both Arrow tables by their local names (replacement scans)
        new_ids = self._ids_table(candidates)
        batch = self._readings_table(messages, fresh, candidates)
        statements = ["BEGIN TRANSACTION"]
        if new_ids is not None:
            # the usual case, no resends: a plain INSERT, about half the cost of ON CONFLICT ...
            # RETURNING; a resend breaks the primary key and aborts the whole transaction
            statements.append("INSERT INTO messages SELECT * FROM new_ids")
        if batch is not None:
            statements.append(_INSERT_READINGS)
        try:
            # one call for the whole transaction: the worker thread takes the GIL back once, not
            # after every statement (each retake can wait a switch interval on a busy event loop)
            self._conn.execute(";\n".join([*statements, "COMMIT"]))
        except duckdb.ConstraintException:
            self._rollback()
            return self._append_with_resends(messages, fresh)
        except Exception:
            self._rollback()
            raise
        self._pend(batch)
        return fresh

    def _pend(self, batch: Any) -> None:
        """Keep a stored batch for the next merge into ``latest``; merge now if many wait."""
        if batch is None:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= MAX_PENDING_READINGS:
            self._merge_latest()

    def _rollback(self) -> None:
        import duckdb

        # the failed statement may have ended the transaction already
        with contextlib.suppress(duckdb.TransactionException):
            self._conn.rollback()

    def _append_with_resends(self, messages: list[Message], fresh: list[bool]) -> list[bool]:
        """The slow path when some ids are stored already: the primary key picks the new ones."""
        self._conn.begin()
        try:
            new_ids = self._ids_table([m for m, new in zip(messages, fresh, strict=True) if new])
            inserted: set[tuple[str, str]] = set()
            if new_ids is not None:  # found by its local name, like in _append
                rows = self._conn.execute(
                    "INSERT INTO messages SELECT * FROM new_ids ON CONFLICT DO NOTHING "
                    "RETURNING device_id, msg_id"
                ).fetchall()
                inserted = set(rows)
            fresh = [
                new and (m.msg_id is None or (m.device_id, m.msg_id) in inserted)
                for m, new in zip(messages, fresh, strict=True)
            ]
            batch = self._readings_table(
                messages, fresh, [m for m, new in zip(messages, fresh, strict=True) if new]
            )
            if batch is not None:
                self._conn.execute(_INSERT_READINGS)
            self._conn.commit()
        except Exception:
            self._rollback()
            raise
        self._pend(batch)
        return fresh

    @staticmethod
    def _ids_table(messages: list[Message]) -> Any:
        import pyarrow as pa

        with_id = [m for m in messages if m.msg_id is not None]
        if not with_id:
            return None
        return pa.table(
            {
                "device_id": [m.device_id for m in with_id],
                "msg_id": [m.msg_id for m in with_id],
                "received": pa.array([_naive(utcnow())] * len(with_id), pa.timestamp("us")),
            }
        )

    @classmethod
    def _readings_table(cls, messages: list[Message], fresh: list[bool], candidates: list[Message]) -> Any:
        """The readings of the fresh messages (``candidates``) as one Arrow table, or None."""
        if not isinstance(messages, ColumnarMessages):
            return cls._batch_table(candidates)
        columns = messages.columns if len(candidates) == len(messages) else messages.columns.keep(fresh)
        return cls._columns_table(candidates, columns)

    @staticmethod
    def _columns_table(messages: list[Message], columns: ReadingColumns) -> Any:
        """Like ``_batch_table``, from readings given column by column (numbers only)."""
        import numpy as np
        import pyarrow as pa

        n = len(columns.nums)
        if n == 0:
            return None
        msg_index = pa.array(np.repeat(np.arange(len(messages), dtype=np.int32), columns.counts))
        org = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.org_id for m in messages]))
        kind = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.type_id for m in messages]))
        device = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.device_id for m in messages]))
        return pa.table(
            {
                "org_id": org.cast(pa.string()),
                "type_id": kind.cast(pa.string()),
                "device_id": device.cast(pa.string()),
                "key": columns.keys,
                "ts": pa.array(columns.ts, pa.int64()).cast(pa.timestamp("us")),
                "num": pa.array(columns.nums, pa.float64()),
                "txt": pa.nulls(n, pa.string()),
                "flag": pa.nulls(n, pa.bool_()),
            }
        )

    @staticmethod
    def _batch_table(messages: list[Message]) -> Any:
        """The messages' readings as one Arrow table in the ``readings`` column order, or None."""
        import pyarrow as pa

        rows = [r for m in messages for r in m.readings]
        if not rows:
            return None
        n = len(rows)
        keys, ts, values = zip(*rows, strict=True)
        counts = [len(m.readings) for m in messages]
        # org, type and device repeat per message: dictionary-encode instead of n Python strings
        msg_index = pa.array([i for i, c in enumerate(counts) for _ in range(c)], pa.int32())
        org = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.org_id for m in messages]))
        kind = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.type_id for m in messages]))
        device = pa.DictionaryArray.from_arrays(msg_index, pa.array([m.device_id for m in messages]))
        if all(v.__class__ is float for v in values):  # the usual case: numbers only
            nums, txts, flags = (
                pa.array(values, pa.float64()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.bool_()),
            )
        else:
            split = [split_value(v) for v in values]
            nums = pa.array([x[0] for x in split], pa.float64())
            txts = pa.array([x[1] for x in split], pa.string())
            flags = pa.array([x[2] for x in split], pa.bool_())
        return pa.table(
            {
                "org_id": org.cast(pa.string()),
                "type_id": kind.cast(pa.string()),
                "device_id": device.cast(pa.string()),
                "key": pa.array(keys, pa.string()),
                "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us")),
                "num": nums,
                "txt": txts,
                "flag": flags,
            }
        )

    # reads -------------------------------------------------------------------------------
    async def readings(
        self, sel: Selection, *, limit: int = 10_000, newest_first: bool = False
    ) -> list[Reading]:
        """Raw readings in the selection, in time order (or newest first)."""
        clause, params = where(sel, lambda _: "?", _naive)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT device_id, key, ts, num, txt, flag FROM readings {clause} "  # noqa: S608 - placeholders only
            f"ORDER BY ts {order}, device_id, key LIMIT {check_limit(limit)}"
        )
        rows = await self.execute(sql, params)
        return [Reading(d, k, as_utc(ts), join_value(n, t, f)) for d, k, ts, n, t, f in rows]

    async def latest(self, sel: Selection) -> list[Reading]:
        """Newest value of each (device, key) in the selection (time bounds ignored)."""
        clause, params = where(Selection(sel.org_id, sel.device_ids, sel.keys), lambda _: "?", _naive)
        sql = f"SELECT device_id, key, ts, num, txt, flag FROM latest {clause} ORDER BY device_id, key"  # noqa: S608

        def merged_then_read() -> list[tuple[Any, ...]]:
            self._merge_latest()
            return self._run(sql, params)

        rows = await self._call(merged_then_read)
        return [Reading(d, k, as_utc(ts), join_value(n, t, f)) for d, k, ts, n, t, f in rows]

    async def aggregate(
        self, sel: Selection, *, bucket_seconds: float, aggregates: list[str], group: bool = False
    ) -> list[BucketRow]:
        """Aggregates per time bucket (aligned to the epoch), per device or over the whole group."""
        names = check_aggregates(aggregates)
        width = check_bucket(bucket_seconds)
        clause, params = where(sel, lambda _: "?", _naive)
        device = "NULL" if group else "device_id"
        exprs = ", ".join(_AGG_SQL[n] for n in names)
        sql = (
            f"SELECT time_bucket(to_microseconds({width}), ts, TIMESTAMP '1970-01-01') AS bucket, "  # noqa: S608
            f"{device} AS device, key, {exprs} FROM readings {clause} "
            f"GROUP BY ALL ORDER BY bucket, device, key"
        )
        rows = await self.execute(sql, params)
        return [BucketRow(as_utc(r[0]), r[1], r[2], dict(zip(names, r[3:], strict=True))) for r in rows]

    async def export(self, sel: Selection) -> Any:
        """The selection's readings as an Arrow table (for CSV and Parquet export)."""
        clause, params = where(sel, lambda _: "?", _naive)
        sql = (
            "SELECT device_id, key, ts, num, txt, flag FROM readings "  # noqa: S608
            f"{clause} ORDER BY ts, device_id, key"
        )
        return await self._call(lambda: self._conn.sql(sql, params=params).to_arrow_table())

    async def delete_before(self, org_id: str, type_id: str, before: datetime) -> int:
        """Retention: drop the readings of one device type older than ``before``."""
        rows = await self.execute(
            "DELETE FROM readings WHERE org_id = ? AND type_id = ? AND ts < ?",
            [org_id, type_id, _naive(before)],
        )
        return int(rows[0][0]) if rows else 0

    async def forget_messages(self, before: datetime) -> int:
        """Drop message ids received before ``before`` (resends older than that are stored again)."""
        rows = await self.execute("DELETE FROM messages WHERE received < ?", [_naive(before)])
        return int(rows[0][0]) if rows else 0

    async def query(
        self,
        org_id: str,
        sql: str,
        params: Sequence[Any] = (),
        *,
        limit: int = 10_000,
        time_limit: float = 30.0,
    ) -> QueryResult:
        """A tenant's read-only SQL over its own ``readings`` view (see ``duckdb_sql``)."""
        return await run_duckdb_query(self, org_id, sql, params, limit, time_limit)

    async def ping(self) -> Readiness:
        """Ask DuckDB for its version."""

        async def check() -> str:
            rows = await self.execute("SELECT version()")
            return f"duckdb {rows[0][0]} {self.path}"

        return await timed_check("duckdb", check)

    async def close(self) -> None:
        """Close the DuckDB file."""
        if self._conn is not None:
            async with self._lock:
                await asyncio.to_thread(self._close_cleanly)
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    def _close_cleanly(self) -> None:
        """Merge what waits into ``latest`` and mark the file clean (no rebuild at the next open)."""
        try:
            self._merge_latest()
            self._conn.execute("DELETE FROM latest_state; INSERT INTO latest_state VALUES (true)")
        except Exception:  # the next open rebuilds latest from readings
            log.exception("could not bring latest up to date before closing")
