"""The append-only log of every access to residents' personal data, hash-chained per organisation.

Each entry says who (``user:<id>``, ``key:<id>``, ``host`` for the command line), when, which record,
what (create, read, write, export, delete), which fields and why. Entries are written in the same
transaction as the access they record, so data is never read or changed without its entry. The store
refuses UPDATE and DELETE on the table; on top of that, entry n carries
``hash_n = SHA-256(hash_{n-1} || canonical JSON of entry n)``, so ``verify`` finds an entry that was
changed, removed or inserted by someone who got past the store's triggers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Forbidden, InvalidInput
from iplus.core.roles import Role
from iplus.infra.db.engine import Database
from iplus.infra.db.models_health import HealthAccessEntry, HealthLogHead
from iplus.security.principal import Principal

GENESIS = "0" * 64
ACTIONS = ("create", "read", "write", "export", "delete")
MAX_PURPOSE = 500


def actor_of(caller: Principal) -> str:
    """Who acts: a person, an API key, or the host's command line."""
    if caller.user_id:
        return f"user:{caller.user_id}"
    if caller.api_key_id:
        return f"key:{caller.api_key_id}"
    return "host"


def check_purpose(purpose: Any) -> str:
    """The stated reason for an access: 3 to 500 characters."""
    text = purpose.strip() if isinstance(purpose, str) else ""
    if not 3 <= len(text) <= MAX_PURPOSE:
        raise InvalidInput(
            "every access to personal health data needs its purpose",
            errors=[f"/purpose: say why, in 3 to {MAX_PURPOSE} characters"],
        )
    return text


def chain_hash(prev: str, body: dict[str, Any]) -> str:
    """The hash of an entry: SHA-256 over the previous hash and the entry's canonical JSON."""
    return hashlib.sha256(prev.encode() + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def entry_body(e: HealthAccessEntry) -> dict[str, Any]:
    """What an entry's hash covers."""
    return {
        "org_id": e.org_id,
        "seq": e.seq,
        "resident_id": e.resident_id,
        "action": e.action,
        "fields": list(e.fields),
        "actor": e.actor,
        "purpose": e.purpose,
        "at": as_utc(e.at).isoformat(),
    }


def entry_json(e: HealthAccessEntry) -> dict[str, Any]:
    """An entry as JSON-ready data."""
    return entry_body(e) | {"id": e.id, "prev_hash": e.prev_hash, "hash": e.hash}


def can_read_log(caller: Principal, org_id: str) -> bool:
    """The organisation's administrators, and the platform operator's administrators, read its log."""
    if not caller.is_admin:
        return False
    return caller.org_id == org_id or Role.OPERATOR in caller.roles


class AccessLog:
    """Appends to and reads the access log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def append(
        s: AsyncSession,
        *,
        org_id: str,
        resident_id: str,
        action: str,
        fields: list[str],
        actor: str,
        purpose: str,
        at: datetime | None = None,
    ) -> HealthAccessEntry:
        """Add an entry inside the caller's transaction, chained after the organisation's newest."""
        if action not in ACTIONS:
            raise ValueError(f"unknown access action {action!r}")
        # the no-op update takes the write lock first (SQLite) or the row lock (PostgreSQL): entries of
        # one organisation are numbered and chained one after another, never both after the same head
        await s.execute(
            update(HealthLogHead)
            .where(HealthLogHead.org_id == org_id)
            .values(seq=HealthLogHead.seq)
            .execution_options(synchronize_session=False)
        )
        head = await s.scalar(select(HealthLogHead).where(HealthLogHead.org_id == org_id).with_for_update())
        if head is None:
            head = HealthLogHead(org_id=org_id, seq=0, hash=GENESIS)
            s.add(head)
        entry = HealthAccessEntry(
            org_id=org_id,
            seq=head.seq + 1,
            resident_id=resident_id,
            action=action,
            fields=sorted(fields),
            actor=actor[:100],
            purpose=purpose[:MAX_PURPOSE],
            at=as_utc(at or utcnow()),
            prev_hash=head.hash,
            hash="",
        )
        entry.hash = chain_hash(head.hash, entry_body(entry))
        s.add(entry)
        head.seq, head.hash = entry.seq, entry.hash
        await s.flush()
        return entry

    async def entries(
        self,
        caller: Principal,
        org_id: str | None = None,
        *,
        resident_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of an organisation's log, newest first, and the total (its admins and the operator's)."""
        org = org_id or caller.org_id
        if not can_read_log(caller, org):
            raise Forbidden("the access log is read by the organisation's administrators and the operator")
        conds = [HealthAccessEntry.org_id == org]
        if resident_id is not None:
            conds.append(HealthAccessEntry.resident_id == resident_id)
        async with self.db.transaction() as s:
            total = await s.scalar(select(func.count()).select_from(HealthAccessEntry).where(*conds))
            rows = await s.scalars(
                select(HealthAccessEntry)
                .where(*conds)
                .order_by(HealthAccessEntry.seq.desc())
                .offset(max(0, offset))
                .limit(max(1, min(limit, 1000)))
            )
            return [entry_json(e) for e in rows.all()], int(total or 0)

    async def of_resident(self, s: AsyncSession, org_id: str, resident_id: str) -> list[dict[str, Any]]:
        """Every entry about one record, oldest first (for the record's export)."""
        rows = await s.scalars(
            select(HealthAccessEntry)
            .where(HealthAccessEntry.org_id == org_id, HealthAccessEntry.resident_id == resident_id)
            .order_by(HealthAccessEntry.seq)
        )
        return [entry_json(e) for e in rows.all()]

    async def verify(self, caller: Principal, org_id: str | None = None) -> dict[str, Any]:
        """Walk the organisation's chain: numbering, links and hashes, and the head it should end at."""
        org = org_id or caller.org_id
        if not can_read_log(caller, org):
            raise Forbidden(
                "the access log is verified by the organisation's administrators and the operator"
            )
        problems: list[str] = []
        prev, expected, count = GENESIS, 1, 0
        async with self.db.transaction() as s:
            head = await s.scalar(select(HealthLogHead).where(HealthLogHead.org_id == org))
            result = await s.stream_scalars(
                select(HealthAccessEntry)
                .where(HealthAccessEntry.org_id == org)
                .order_by(HealthAccessEntry.seq)
                .execution_options(yield_per=1000)
            )
            async for e in result:
                count += 1
                if e.seq != expected:
                    problems.append(f"entry {expected} is missing (found {e.seq} next)")
                if e.prev_hash != prev:
                    problems.append(f"entry {e.seq} does not link to the entry before it")
                if chain_hash(e.prev_hash, entry_body(e)) != e.hash:
                    problems.append(f"entry {e.seq} was altered: its content does not match its hash")
                prev, expected = e.hash, e.seq + 1
                if len(problems) >= 20:
                    break
        if head is not None and not problems and (head.seq != count or head.hash != prev):
            problems.append(f"the log should end at entry {head.seq}; entries after {count} are missing")
        return {"org_id": org, "entries": count, "ok": not problems, "problems": problems}
