"""Product traceability from field to shelf: batches, hash-chained steps, verification and QR codes.

A batch is created with its harvest step; processing, transport and shelf steps follow (``chain``
fixes the order and the hashing). Steps are only ever appended: the batch keeps the number of steps
and the newest hash, moved together with each append by one conditional update, so two appends at once
cannot both take the same place. Anyone holding a batch's code reads its record and whether it verifies
through ``PublicTrace`` (the QR code's page) - a look-up before any tenant is known, by an unguessable
code (80 random bits).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from iplus.apps.agriculture.chain import (
    GENESIS,
    StepContent,
    StoredStep,
    Verification,
    canonical_json,
    order_problem,
    step_hash,
    verify,
)
from iplus.apps.agriculture.fields import FIELD_TYPE
from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.jsondoc import json_problems
from iplus.core.roles import Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models_agriculture import AgriBatch, AgriTraceStep
from iplus.infra.db.models_virtual import VirtualThing
from iplus.infra.db.repos import TenantRepository, flush_or_conflict
from iplus.security.principal import Principal

CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: 16 characters carry 80 bits
CODE_LENGTH = 16
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{16}$"
MAX_DATA_CHARS = 10_000
FUTURE_SLACK = timedelta(minutes=5)  # clocks of the people recording steps may run a little ahead


def new_code() -> str:
    """A fresh public batch code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class StepInput:
    """A step to record: what happened, when (default now), who did it, where, and free details."""

    kind: str
    actor: str
    location: str = ""
    at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


class BatchRepository(TenantRepository[AgriBatch]):
    """Batches of one organisation."""

    model = AgriBatch
    noun = "batch"


def _step_problems(step: StepInput, where: str) -> list[str]:
    problems = []
    if not step.actor.strip():
        problems.append(f"{where}/actor: who did this step")
    elif len(step.actor) > 200:
        problems.append(f"{where}/actor: longer than 200 characters")
    if len(step.location) > 200:
        problems.append(f"{where}/location: longer than 200 characters")
    if step.at is not None:
        if step.at.tzinfo is None:
            problems.append(f"{where}/at: give the time with its UTC offset")
        elif step.at > utcnow() + FUTURE_SLACK:
            problems.append(f"{where}/at: in the future")
    if not isinstance(step.data, dict):
        problems.append(f"{where}/data: must be an object")
    else:
        problems += json_problems(step.data, f"{where}/data")
        if not problems and len(canonical_json(step.data)) > MAX_DATA_CHARS:
            problems.append(f"{where}/data: longer than {MAX_DATA_CHARS:,} characters as JSON")
    return problems


def _stored(batch: AgriBatch, row: AgriTraceStep) -> StoredStep:
    content = StepContent(batch.code, row.seq, row.kind, row.at, row.actor, row.location, row.data)
    return StoredStep(content, row.prev_hash, row.hash)


async def _steps(s: Any, batch_id: str) -> list[AgriTraceStep]:
    stmt = select(AgriTraceStep).where(AgriTraceStep.batch_id == batch_id).order_by(AgriTraceStep.seq)
    return list((await s.scalars(stmt)).all())


@dataclass(frozen=True)
class Record:
    """A batch with its steps in order."""

    batch: AgriBatch
    steps: list[AgriTraceStep]

    def verification(self) -> Verification:
        """Whether the stored chain still holds."""
        return verify([_stored(self.batch, s) for s in self.steps], self.batch.head_hash, self.batch.steps)


class Traceability:
    """Batches and their records for one platform's organisations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_batch(
        self,
        caller: Principal,
        *,
        product: str,
        harvest: StepInput,
        quantity: float | None = None,
        unit: str = "kg",
        field_id: str | None = None,
    ) -> Record:
        """A new batch with its harvest as step 1 (all checks first: nothing stored half-way)."""
        caller.require_scope(Scope.WRITE)
        problems = []
        if not product.strip():
            problems.append("/product: what the batch is")
        elif len(product) > 200:
            problems.append("/product: longer than 200 characters")
        if quantity is not None and not (0 < quantity < 1e12):
            problems.append("/quantity: a positive amount")
        if not unit.strip() or len(unit) > 20:
            problems.append("/unit: 1-20 characters")
        if harvest.kind != "harvest":
            problems.append("/harvest/kind: a batch starts with its harvest")
        problems += _step_problems(harvest, "/harvest")
        async with self.db.transaction() as s:
            if field_id is not None:
                thing = await s.scalar(
                    select(VirtualThing).where(
                        VirtualThing.id == field_id, VirtualThing.org_id == caller.org_id
                    )
                )
                if thing is None or thing.type != FIELD_TYPE:
                    problems.append(f"/field_id: {field_id} is not a field of this organisation")
            if problems:
                raise InvalidInput("the batch cannot be created", errors=problems)
            batch = AgriBatch(
                code=new_code(),
                product=product.strip(),
                quantity=quantity,
                unit=unit.strip(),
                field_id=field_id,
                steps=0,
                head_hash=GENESIS,
            )
            await BatchRepository(s, caller.org_id).add(batch)
            step = await self._append(s, batch, harvest)
        return Record(batch, [step])

    async def add_step(self, caller: Principal, batch_id: str, step: StepInput) -> AgriTraceStep:
        """Append a step to a batch's record."""
        caller.require_scope(Scope.WRITE)
        problems = _step_problems(step, "")
        async with self.db.transaction() as s:
            batch = await BatchRepository(s, caller.org_id).get(batch_id)
            steps = await _steps(s, batch.id)
            why = order_problem([r.kind for r in steps], step.kind)
            if why:
                problems.insert(0, f"/kind: {why}")
            if steps and step.at is not None and step.at.tzinfo is not None and step.at < steps[-1].at:
                problems.append(f"/at: before the previous step ({steps[-1].at.isoformat()})")
            if problems:
                raise InvalidInput("the step cannot be recorded", errors=problems)
            return await self._append(s, batch, step)

    async def _append(self, s: Any, batch: AgriBatch, step: StepInput) -> AgriTraceStep:
        at = as_utc(step.at or utcnow()).replace(microsecond=0)
        seq, prev = batch.steps + 1, batch.head_hash
        content = StepContent(
            batch.code, seq, step.kind, at, step.actor.strip(), step.location.strip(), step.data
        )
        digest = step_hash(prev, content)
        row = AgriTraceStep(
            org_id=batch.org_id,
            batch_id=batch.id,
            seq=seq,
            kind=content.kind,
            at=at,
            actor=content.actor,
            location=content.location,
            data=dict(step.data),
            prev_hash=prev,
            hash=digest,
        )
        s.add(row)
        await flush_or_conflict(s, f"step {seq} of batch {batch.id}")
        moved = await s.execute(
            update(AgriBatch)
            .where(AgriBatch.id == batch.id, AgriBatch.steps == batch.steps, AgriBatch.head_hash == prev)
            .values(steps=seq, head_hash=digest)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            raise Conflict("another step was recorded at the same time: reload and try again")
        batch.steps, batch.head_hash = seq, digest
        return row

    async def record(self, caller: Principal, batch_id: str) -> Record:
        """A batch of the organisation with its steps."""
        async with self.db.transaction() as s:
            batch = await BatchRepository(s, caller.org_id).get(batch_id)
            return Record(batch, await _steps(s, batch.id))

    async def batches(self, caller: Principal, *, limit: int = 100) -> list[AgriBatch]:
        """The organisation's newest batches."""
        async with self.db.transaction() as s:
            stmt = (
                BatchRepository(s, caller.org_id)
                ._select()
                .order_by(AgriBatch.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return list((await s.scalars(stmt)).all())

    async def verify(self, caller: Principal, batch_id: str) -> Verification:
        """Recompute a batch's chain from what is stored."""
        return (await self.record(caller, batch_id)).verification()


@dataclass(frozen=True)
class PublicRecord:
    """What a QR code's page shows: the batch, its steps, where it grew, and whether the chain holds."""

    record: Record
    field_title: str | None
    crop: str | None
    verification: Verification


class PublicTrace:
    """The platform-wide look-up of a batch by its public code (no tenant, no login)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def lookup(self, code: str) -> PublicRecord:
        """The record behind a code; an unknown code is ``NotFound``."""
        async with self.db.transaction() as s:
            batch = await s.scalar(select(AgriBatch).where(AgriBatch.code == code))
            if batch is None:
                raise NotFound("no batch has this code")
            steps = await _steps(s, batch.id)
            thing = None
            if batch.field_id is not None:
                thing = await s.scalar(select(VirtualThing).where(VirtualThing.id == batch.field_id))
        record = Record(batch, steps)
        crop = thing.attributes.get("crop") if thing is not None else None
        return PublicRecord(
            record,
            thing.title if thing is not None else None,
            crop if isinstance(crop, str) else None,
            record.verification(),
        )


def qr_svg(url: str, *, scale: int = 4) -> str:
    """An SVG QR code (error correction M) of ``url``, embeddable in HTML."""
    import segno  # lazily: only QR pages need it

    code = segno.make(url, error="m", micro=False)
    return str(code.svg_inline(scale=scale, title=url))


def qr_document(url: str, *, scale: int = 4) -> str:
    """The QR code of ``url`` as a standalone SVG document (XML declaration and SVG namespace)."""
    svg = qr_svg(url, scale=scale).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return f'<?xml version="1.0" encoding="utf-8"?>\n{svg}\n'


def step_dict(row: AgriTraceStep) -> dict[str, Any]:
    """A stored step as JSON."""
    return {
        "seq": row.seq,
        "kind": row.kind,
        "at": as_utc(row.at).isoformat(),
        "actor": row.actor,
        "location": row.location,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def record_dict(record: Record, trace_url: str | None = None) -> dict[str, Any]:
    """A batch with its steps and its verification as JSON; ``trace_url`` is its public page."""
    b = record.batch
    return {
        "id": b.id,
        "code": b.code,
        "product": b.product,
        "quantity": b.quantity,
        "unit": b.unit,
        "field_id": b.field_id,
        "steps": [step_dict(s) for s in record.steps],
        "head_hash": b.head_hash,
        "created_at": as_utc(b.created_at).isoformat(),
        "verification": record.verification().as_dict(),
        "trace_url": trace_url,
    }
