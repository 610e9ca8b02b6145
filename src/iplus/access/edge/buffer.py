"""The on-disk store-and-forward queue: one SQLite file in WAL mode, used from one thread."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import orjson

from iplus.access.edge.model import OutboxMessage, Reading, Rejected, iso
from iplus.core.errors import ConfigurationError

P = ParamSpec("P")
T = TypeVar("T")

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    values_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER,
    msg_id TEXT,
    device_id TEXT NOT NULL,
    ts TEXT,
    payload TEXT NOT NULL,
    status INTEGER,
    reason TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    alarm TEXT NOT NULL,
    active INTEGER NOT NULL,
    property TEXT NOT NULL,
    value REAL NOT NULL,
    ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_state (
    device_id TEXT NOT NULL,
    alarm TEXT NOT NULL,
    active INTEGER NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (device_id, alarm)
);
CREATE TABLE IF NOT EXISTS seen_input (
    device_id TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_input_received ON seen_input (received);
"""


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """An alarm that raised (``active``) or cleared on a device, with the value that moved it."""

    device_id: str
    alarm: str
    active: bool
    property: str
    value: float
    ts: float


class Buffer:
    """The queue, the dead letters, the alarm record and the input de-duplication of one gateway.

    Not thread-safe: use it from one thread (see :class:`BufferThread`). Writes between
    :meth:`transaction` enter and exit commit together.
    """

    def __init__(self, path: Path, gateway_id: str, synchronous: str = "full") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.gateway_id = gateway_id
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE ... COMMIT), not implicit
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._init_schema()

    def _init_schema(self) -> None:
        self._db.executescript(_SCHEMA)
        with self.transaction():
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if not rows:
                self._db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("gateway_id", self.gateway_id), ("schema", SCHEMA_VERSION)],
                )
                # Start the sequence at the creation time in microseconds: a buffer file that is
                # deleted and made again must not reuse msg ids the platform already de-duplicates.
                self._db.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (time.time_ns() // 1000,)
                )
            elif rows.get("gateway_id") != self.gateway_id:
                raise ConfigurationError(
                    f"buffer {self.path} belongs to gateway {rows.get('gateway_id')!r}, not "
                    f"{self.gateway_id!r}: its queued msg ids would change; use another buffer path"
                )
            elif rows.get("schema") != SCHEMA_VERSION:
                raise ConfigurationError(f"buffer {self.path} has schema {rows.get('schema')}, expected 1")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything written inside the block at once, or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the file (the WAL is checkpointed)."""
        self._db.close()

    # -- writes made by the pipeline, inside its transaction ------------------------------------

    def first_seen(self, readings: Sequence[Reading], now: float) -> list[Reading]:
        """The readings whose (device, source msg id) was not seen before; readings without one pass."""
        fresh = []
        for r in readings:
            if r.source_msg_id is None:
                fresh.append(r)
                continue
            cur = self._db.execute(
                "INSERT OR IGNORE INTO seen_input (device_id, msg_id, received) VALUES (?, ?, ?)",
                (r.device_id, r.source_msg_id, now),
            )
            if cur.rowcount == 1:
                fresh.append(r)
        return fresh

    def forget_inputs_before(self, cutoff: float) -> None:
        """Drop input ids received before ``cutoff``: redeliveries come within minutes, not days."""
        self._db.execute("DELETE FROM seen_input WHERE received < ?", (cutoff,))

    def enqueue(self, messages: Iterable[Reading]) -> int:
        """Append messages to the queue in order; return how many."""
        rows = [(m.device_id, iso(m.ts), orjson.dumps(dict(m.values)).decode()) for m in messages]
        self._db.executemany("INSERT INTO outbox (device_id, ts, values_json) VALUES (?, ?, ?)", rows)
        return len(rows)

    def record_alarms(self, events: Sequence[AlarmEvent]) -> None:
        """Keep alarm events and the current state of each alarm."""
        self._db.executemany(
            "INSERT INTO alarm_events (device_id, alarm, active, property, value, ts) VALUES (?,?,?,?,?,?)",
            [(e.device_id, e.alarm, int(e.active), e.property, e.value, iso(e.ts)) for e in events],
        )
        self._db.executemany(
            "INSERT INTO alarm_state (device_id, alarm, active, since) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (device_id, alarm) DO UPDATE SET active = excluded.active, since = excluded.since",
            [(e.device_id, e.alarm, int(e.active), iso(e.ts)) for e in events],
        )

    def reject_inputs(self, rejects: Sequence[Rejected], now: float) -> None:
        """Keep undecodable input in the dead-letter table."""
        self._db.executemany(
            "INSERT INTO dead_letter (device_id, payload, reason, created) VALUES (?, ?, ?, ?)",
            [(r.device_id, r.payload, r.reason, iso(now)) for r in rejects],
        )

    # -- reads and writes made by the forwarder ---------------------------------------------------

    def peek(self, limit: int) -> list[OutboxMessage]:
        """The oldest ``limit`` queued messages, in sequence order."""
        rows = self._db.execute(
            "SELECT seq, device_id, ts, values_json FROM outbox ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        gw = self.gateway_id
        return [OutboxMessage(seq, dev, f"{gw}-{seq}", ts, orjson.loads(v)) for seq, dev, ts, v in rows]

    def ack(self, seqs: Sequence[int]) -> None:
        """Remove messages the platform has answered for with 2xx."""
        with self.transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def dead_letter(self, rejected: Sequence[tuple[OutboxMessage, str]], status: int | None) -> None:
        """Move messages the platform refused for good out of the queue, with the reason."""
        now = iso(time.time())
        with self.transaction():
            self._db.executemany(
                "INSERT INTO dead_letter (seq, msg_id, device_id, ts, payload, status, reason, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.seq,
                        m.msg_id,
                        m.device_id,
                        m.ts,
                        orjson.dumps(dict(m.values)).decode(),
                        status,
                        why,
                        now,
                    )
                    for m, why in rejected
                ],
            )
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(m.seq,) for m, _ in rejected])

    # -- inspection -------------------------------------------------------------------------------

    def queued(self) -> int:
        """How many messages wait in the queue."""
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def dead_letters(self) -> list[dict[str, object]]:
        """Every dead letter, oldest first."""
        cur = self._db.execute(
            "SELECT seq, msg_id, device_id, ts, payload, status, reason FROM dead_letter ORDER BY id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def alarm_states(self) -> dict[tuple[str, str], bool]:
        """The last known state of every alarm, so a restart neither re-raises nor forgets one."""
        rows = self._db.execute("SELECT device_id, alarm, active FROM alarm_state").fetchall()
        return {(dev, alarm): bool(active) for dev, alarm, active in rows}

    def alarm_events(self) -> list[AlarmEvent]:
        """Every recorded alarm event, oldest first."""
        rows = self._db.execute(
            "SELECT device_id, alarm, active, property, value, ts FROM alarm_events ORDER BY id"
        ).fetchall()
        return [AlarmEvent(d, a, bool(on), p, v, _epoch(ts)) for d, a, on, p, v, ts in rows]


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


class BufferThread:
    """Runs every buffer call on one worker thread: sqlite3 sees one user and the event loop never blocks."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-buffer")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the buffer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def shutdown(self) -> None:
        """Wait for the running call and stop the thread."""
        self._pool.shutdown(wait=True)
