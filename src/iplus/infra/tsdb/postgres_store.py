"""Telemetry store on PostgreSQL: readings in daily range partitions, written with COPY."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from iplus.core.clock import as_utc
from iplus.core.errors import ConfigurationError, NotReady
from iplus.infra.ports import Readiness
from iplus.infra.telemetry import (
    BucketRow,
    Message,
    Reading,
    Selection,
    from_us,
    join_value,
    latest_of,
    split_value,
)
from iplus.infra.timing import timed_check
from iplus.infra.tsdb.duckdb_sql import QueryResult
from iplus.infra.tsdb.postgres_sql import run_postgres_query
from iplus.infra.tsdb.sql import check_aggregates, check_bucket, check_limit, where

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS readings (
        org_id text NOT NULL, type_id text NOT NULL, device_id text NOT NULL, key text NOT NULL,
        ts timestamptz NOT NULL, num double precision, txt text, flag boolean
    ) PARTITION BY RANGE (ts)""",
    "CREATE INDEX IF NOT EXISTS readings_device_ts ON readings (device_id, ts)",
    """CREATE TABLE IF NOT EXISTS messages (
        device_id text NOT NULL, msg_id text NOT NULL, received timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (device_id, msg_id))""",
    """CREATE TABLE IF NOT EXISTS latest (
        org_id text NOT NULL, type_id text NOT NULL, device_id text NOT NULL, key text NOT NULL,
        ts timestamptz NOT NULL, num double precision, txt text, flag boolean,
        PRIMARY KEY (device_id, key))""",
]

_AGG_SQL = {
    "count": "count(*)",
    "min": "min(num)",
    "max": "max(num)",
    "avg": "avg(num)",
    "sum": "sum(num)",
    "first": "(array_agg(num ORDER BY ts ASC))[1]",
    "last": "(array_agg(num ORDER BY ts DESC))[1]",
}
_COLUMNS = ["org_id", "type_id", "device_id", "key", "ts", "num", "txt", "flag"]


def dsn_from_url(url: str) -> str:
    """``postgresql://...`` (any ``+driver`` suffix dropped) -> an asyncpg DSN."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ConfigurationError(f"telemetry URL {url!r} must look like postgresql://user@host/db")
    return f"postgresql://{rest}"


def _day(us: int) -> datetime:
    ts = from_us(us)
    return datetime(ts.year, ts.month, ts.day, tzinfo=UTC)


class PostgresTelemetryStore:
    """The scale-out telemetry store: PostgreSQL, one partition per day."""

    name = "telemetry"
    dialect = "postgresql"

    def __init__(self, url: str, *, search_path: str | None = None) -> None:
        self.dsn = dsn_from_url(url)
        self.search_path = search_path
        self._pool: Any = None
        self._partitions: set[datetime] = set()

    async def open(self) -> None:
        """Connect and create the tables."""
        import asyncpg

        settings = {"search_path": self.search_path} if self.search_path else None
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, server_settings=settings)
        except (OSError, asyncpg.PostgresError) as exc:
            raise NotReady(f"cannot reach the telemetry store at {self.dsn}: {exc}") from exc
        async with self._pool.acquire() as conn:
            # one creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(7140001)")
                for statement in SCHEMA:
                    await conn.execute(statement)

    def _conn(self) -> Any:
        if self._pool is None:
            raise NotReady("telemetry store is not open")
        return self._pool.acquire()

    async def _ensure_partitions(self, conn: Any, days: set[datetime]) -> set[datetime]:
        created = set()
        for day in sorted(days - self._partitions):
            name = f"readings_{day:%Y%m%d}"
            await conn.execute("SELECT pg_advisory_xact_lock(7140002)")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
            )
            created.add(day)
        return created

    async def append(self, messages: Sequence[Message]) -> list[bool]:
        """Store each message whole, once; returns for each whether it was new."""
        messages = list(messages)
        created: set[datetime] = set()
        async with self._conn() as conn, conn.transaction():
            fresh = [True] * len(messages)
            ids = [(i, m.device_id, m.msg_id) for i, m in enumerate(messages) if m.msg_id is not None]
            if ids:
                inserted = await conn.fetch(
                    "INSERT INTO messages (device_id, msg_id) "
                    "SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING "
                    "RETURNING device_id, msg_id",
                    [d for _, d, _ in ids],
                    [mid for _, _, mid in ids],
                )
                new = {(r[0], r[1]) for r in inserted}
                taken: set[tuple[str, str | None]] = set()
                for i, d, mid in ids:
                    fresh[i] = (d, mid) in new and (d, mid) not in taken
                    taken.add((d, mid))
            stored = [m for m, ok in zip(messages, fresh, strict=True) if ok]
            records = []
            days: set[datetime] = set()
            for m in stored:
                for key, ts, value in m.readings:
                    n, t, f = split_value(value)
                    records.append((m.org_id, m.type_id, m.device_id, key, from_us(ts), n, t, f))
                    days.add(_day(ts))
            if records:
                created = await self._ensure_partitions(conn, days)
                await conn.copy_records_to_table("readings", records=records, columns=_COLUMNS)
            latest = latest_of(stored)
            if latest:
                rows = [
                    (o, t, d, k, from_us(ts), *split_value(v)) for (d, k), (o, t, ts, v) in latest.items()
                ]
                await conn.executemany(
                    "INSERT INTO latest VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, num = excluded.num, "
                    "txt = excluded.txt, flag = excluded.flag, org_id = excluded.org_id, "
                    "type_id = excluded.type_id WHERE excluded.ts >= latest.ts",
                    rows,
                )
        self._partitions |= created  # only once the transaction that made them has committed
        return fresh

    async def _fetch(self, sql: str, params: list[Any]) -> list[Any]:
        async with self._conn() as conn:
            return list(await conn.fetch(sql, *params))

    @staticmethod
    def _placeholders() -> Any:
        counter = iter(range(1, 10_000))
        return lambda _: f"${next(counter)}"

    async def readings(
        self, sel: Selection, *, limit: int = 10_000, newest_first: bool = False
    ) -> list[Reading]:
        """Raw readings in the selection, in time order (or newest first)."""
        clause, params = where(sel, self._placeholders(), as_utc)
        order = "DESC" if newest_first else "ASC"
        rows = await self._fetch(
            f"SELECT device_id, key, ts, num, txt, flag FROM readings {clause} "  # noqa: S608
            f"ORDER BY ts {order}, device_id, key LIMIT {check_limit(limit)}",
            params,
        )
        return [Reading(r[0], r[1], as_utc(r[2]), join_value(r[3], r[4], r[5])) for r in rows]

    async def latest(self, sel: Selection) -> list[Reading]:
        """Newest value of each (device, key) in the selection (time bounds ignored)."""
        clause, params = where(Selection(sel.org_id, sel.device_ids, sel.keys), self._placeholders(), as_utc)
        rows = await self._fetch(
            f"SELECT device_id, key, ts, num, txt, flag FROM latest {clause} ORDER BY device_id, key",  # noqa: S608
            params,
        )
        return [Reading(r[0], r[1], as_utc(r[2]), join_value(r[3], r[4], r[5])) for r in rows]

    async def aggregate(
        self, sel: Selection, *, bucket_seconds: float, aggregates: list[str], group: bool = False
    ) -> list[BucketRow]:
        """Aggregates per time bucket (aligned to the epoch), per device or over the whole group."""
        names = check_aggregates(aggregates)
        width = check_bucket(bucket_seconds)
        clause, params = where(sel, self._placeholders(), as_utc)
        device = "NULL::text" if group else "device_id"
        exprs = ", ".join(_AGG_SQL[n] for n in names)
        rows = await self._fetch(
            f"SELECT date_bin(make_interval(secs => {width / 1e6}), ts, timestamptz 'epoch') AS bucket, "  # noqa: S608
            f"{device} AS device, key, {exprs} FROM readings {clause} "
            f"GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            params,
        )
        return [BucketRow(as_utc(r[0]), r[1], r[2], dict(zip(names, list(r)[3:], strict=True))) for r in rows]

    async def export(self, sel: Selection) -> Any:
        """The selection's readings as an Arrow table (for CSV and Parquet export)."""
        import pyarrow as pa

        clause, params = where(sel, self._placeholders(), as_utc)
        rows = await self._fetch(
            f"SELECT device_id, key, ts, num, txt, flag FROM readings {clause} ORDER BY ts, device_id, key",  # noqa: S608
            params,
        )
        names = ["device_id", "key", "ts", "num", "txt", "flag"]
        return pa.table(
            {
                name: pa.array([r[i] for r in rows], type=kind)
                for i, (name, kind) in enumerate(
                    zip(
                        names,
                        [
                            pa.string(),
                            pa.string(),
                            pa.timestamp("us", tz="UTC"),
                            pa.float64(),
                            pa.string(),
                            pa.bool_(),
                        ],
                        strict=True,
                    )
                )
            }
        )

    async def delete_before(self, org_id: str, type_id: str, before: datetime) -> int:
        """Retention: drop the readings of one device type older than ``before``."""
        async with self._conn() as conn:
            status = await conn.execute(
                "DELETE FROM readings WHERE org_id = $1 AND type_id = $2 AND ts < $3",
                org_id,
                type_id,
                as_utc(before),
            )
        return int(status.split()[-1])

    async def forget_messages(self, before: datetime) -> int:
        """Drop message ids received before ``before``."""
        async with self._conn() as conn:
            status = await conn.execute("DELETE FROM messages WHERE received < $1", as_utc(before))
        return int(status.split()[-1])

    async def query(
        self,
        org_id: str,
        sql: str,
        params: Sequence[Any] = (),
        *,
        limit: int = 10_000,
        time_limit: float = 30.0,
    ) -> QueryResult:
        """A tenant's read-only SQL over its own ``readings`` view (see ``postgres_sql``)."""
        return await run_postgres_query(self, org_id, sql, params, limit, time_limit)

    async def ping(self) -> Readiness:
        """``SELECT version()`` on the server."""

        async def check() -> str:
            rows = await self._fetch("SELECT split_part(version(), ' ', 2)", [])
            return f"postgresql {rows[0][0]} (daily partitions)"

        return await timed_check("postgresql", check)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
