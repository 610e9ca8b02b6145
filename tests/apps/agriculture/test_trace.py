"""Batches in the real SQLite store: record, verify, tamper with stored rows, public look-up, QR code."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import segno
from sqlalchemy import text

from iplus.apps.agriculture.fields import FieldParams
from iplus.apps.agriculture.trace import CODE_PATTERN, StepInput, qr_document, qr_svg
from iplus.core.errors import InvalidInput, NotFound
from tests.apps.agriculture.conftest import Farmland, make_farm

HARVEST = StepInput("harvest", "Crew 2", "Plot A", datetime(2026, 7, 1, 8, tzinfo=UTC), {"kg": 1200})


async def full_record(land: Farmland) -> str:
    record = await land.agri.trace.create_batch(land.p, product="Sweet corn", quantity=1200, harvest=HARVEST)
    batch = record.batch.id
    day = datetime(2026, 7, 1, tzinfo=UTC)
    await land.agri.trace.add_step(
        land.p, batch, StepInput("processing", "Packhouse", "Town", day + timedelta(hours=10), {"cases": 96})
    )
    await land.agri.trace.add_step(
        land.p, batch, StepInput("transport", "Cold chain", "Road", day + timedelta(hours=14))
    )
    await land.agri.trace.add_step(
        land.p, batch, StepInput("shelf", "Market", "City", day + timedelta(hours=20))
    )
    return batch


async def test_a_record_from_field_to_shelf_is_chained_as_written(land: Farmland) -> None:
    batch = await full_record(land)
    record = await land.agri.trace.record(land.p, batch)
    assert [s.kind for s in record.steps] == ["harvest", "processing", "transport", "shelf"]
    # recompute every hash from the stored row with hashlib and hand-assembled canonical JSON
    prev = "0" * 64
    for s in record.steps:
        body = {
            "actor": s.actor,
            "at": s.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "batch": record.batch.code,
            "data": s.data,
            "kind": s.kind,
            "location": s.location,
            "seq": s.seq,
        }
        text_ = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert s.prev_hash == prev
        assert s.hash == hashlib.sha256((prev + text_).encode()).hexdigest()
        prev = s.hash
    assert record.batch.head_hash == prev and record.batch.steps == 4
    assert (await land.agri.trace.verify(land.p, batch)).ok
    with pytest.raises(InvalidInput) as err:
        await land.agri.trace.add_step(land.p, batch, StepInput("transport", "Van", "Back"))
    assert err.value.extra["errors"] == ["/kind: the batch is on the shelf: its record is closed"]


async def test_altering_a_stored_row_is_detected(land: Farmland) -> None:
    batch = await full_record(land)
    async with land.ctx.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE agri_trace_steps SET data = :d WHERE batch_id = :b AND seq = 2"),
            {"d": json.dumps({"cases": 120}), "b": batch},
        )
    v = await land.agri.trace.verify(land.p, batch)
    assert not v.ok and v.first_bad == 2
    assert v.problems == [{"seq": 2, "reason": "its content does not match its hash: altered"}]
    public = await land.agri.public.lookup((await land.agri.trace.record(land.p, batch)).batch.code)
    assert not public.verification.ok
    # a forger who also rewrites the step's hash breaks the link of the step after it
    record = await land.agri.trace.record(land.p, batch)
    forged = record.verification()
    assert forged.first_bad == 2
    async with land.ctx.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE agri_trace_steps SET at = :t WHERE batch_id = :b AND seq = 3"),
            {"t": "2026-07-01 13:00:00.000000", "b": batch},
        )
    v = await land.agri.trace.verify(land.p, batch)
    assert {p["seq"] for p in v.problems} == {2, 3}


async def test_rewriting_a_hash_and_dropping_the_last_step_are_detected(land: Farmland) -> None:
    batch = await full_record(land)
    record = await land.agri.trace.record(land.p, batch)
    step2 = record.steps[1]
    data = {"cases": 120}
    body = {
        "actor": step2.actor,
        "at": step2.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "batch": record.batch.code,
        "data": data,
        "kind": step2.kind,
        "location": step2.location,
        "seq": 2,
    }
    forged = hashlib.sha256(
        (step2.prev_hash + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()
    ).hexdigest()
    async with land.ctx.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE agri_trace_steps SET data = :d, hash = :h WHERE batch_id = :b AND seq = 2"),
            {"d": json.dumps(data), "h": forged, "b": batch},
        )
    v = await land.agri.trace.verify(land.p, batch)
    assert v.problems == [{"seq": 3, "reason": "does not link to the previous step's hash"}]
    async with land.ctx.db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM agri_trace_steps WHERE batch_id = :b AND seq = 4"), {"b": batch})
    v = await land.agri.trace.verify(land.p, batch)
    reasons = [p["reason"] for p in v.problems]
    assert "the batch counts 4 steps, 3 are stored" in reasons
    assert "the batch's head hash is not the last step's hash" in reasons


async def test_bad_batches_and_steps_list_every_problem_and_store_nothing(land: Farmland) -> None:
    _, field_id = await make_farm(land, FieldParams(0.3, 0.1, 0.5, 0.5, 1.0))
    future = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(InvalidInput) as err:
        await land.agri.trace.create_batch(
            land.p,
            product=" ",
            quantity=-3,
            unit="",
            field_id="nope",
            harvest=StepInput("harvest", "", "x" * 201, future, {"bad": float("nan")}),
        )
    assert err.value.extra["errors"] == [
        "/product: what the batch is",
        "/quantity: a positive amount",
        "/unit: 1-20 characters",
        "/harvest/actor: who did this step",
        "/harvest/location: longer than 200 characters",
        "/harvest/at: in the future",
        "/harvest/data/bad: numbers must be finite",
        "/field_id: nope is not a field of this organisation",
    ]
    assert await land.agri.trace.batches(land.p) == []
    record = await land.agri.trace.create_batch(land.p, product="Corn", field_id=field_id, harvest=HARVEST)
    with pytest.raises(InvalidInput) as err:
        await land.agri.trace.add_step(
            land.p, record.batch.id, StepInput("harvest", "Crew", at=datetime(2026, 6, 1, tzinfo=UTC))
        )
    assert err.value.extra["errors"] == [
        "/kind: a batch is harvested once, in its first step",
        "/at: before the previous step (2026-07-01T08:00:00+00:00)",
    ]
    assert (await land.agri.trace.record(land.p, record.batch.id)).batch.steps == 1


async def test_public_lookup_by_code_only_and_the_qr_code(land: Farmland) -> None:
    import re

    _, field_id = await make_farm(land, FieldParams(0.3, 0.1, 0.5, 0.5, 1.0, crop="maize"))
    record = await land.agri.trace.create_batch(land.p, product="Corn", field_id=field_id, harvest=HARVEST)
    code = record.batch.code
    assert re.fullmatch(CODE_PATTERN, code)
    found = await land.agri.public.lookup(code)
    assert found.record.batch.id == record.batch.id and found.verification.ok
    assert (found.field_title, found.crop) == ("Plot A", "maize")
    with pytest.raises(NotFound):
        await land.agri.public.lookup("0" * 16)
    other = await land.ctx.accounts.create_organisation("Other", ["provider"])
    with pytest.raises(NotFound):  # tenancy: another organisation does not see the batch by id
        from dataclasses import replace

        await land.agri.trace.record(replace(land.p, org_id=other.id), record.batch.id)
    url = f"https://farm.example/trace/{code}"
    svg = qr_svg(url)
    assert svg.startswith("<svg") and f"<title>{url}</title>" in svg
    # the modules drawn are those of the QR symbol of exactly this URL, error correction M or better
    expected = segno.make(url, error="m", micro=False)
    assert expected.designator.rsplit("-", 1)[1] in ("M", "Q", "H") and not expected.is_micro
    assert expected.svg_inline(scale=4, title=url) == svg
    doc = qr_document(url)
    assert (
        doc.startswith('<?xml version="1.0" encoding="utf-8"?>')
        and 'xmlns="http://www.w3.org/2000/svg"' in doc
    )


@pytest.mark.postgres
async def test_the_record_and_its_verification_on_postgresql(pg_schema: str) -> None:
    from iplus.apps.agriculture.trace import Traceability
    from iplus.core.roles import Role, Scope
    from iplus.infra.db.engine import Database
    from iplus.infra.db.migrate import upgrade
    from iplus.infra.db.models import Organisation
    from iplus.security.principal import Principal
    from tests.conftest import PG_URL

    db = Database(PG_URL, search_path=pg_schema)
    try:
        await upgrade(db)
        async with db.transaction() as s:
            org = Organisation(name="Farm", roles=["provider"])
            s.add(org)
            await s.flush()
        p = Principal(
            org_id=org.id, roles=frozenset({Role.PROVIDER}), scopes=frozenset({Scope.READ, Scope.WRITE})
        )
        trace = Traceability(db)
        record = await trace.create_batch(p, product="Corn", harvest=HARVEST)
        await trace.add_step(
            p, record.batch.id, StepInput("processing", "Packhouse", data={"ü": [1, 2.5, "x"]})
        )
        assert (await trace.verify(p, record.batch.id)).ok  # JSON and times read back as they were hashed
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE agri_trace_steps SET kind = 'transport' WHERE seq = 2"))
        assert (await trace.verify(p, record.batch.id)).first_bad == 2
    finally:
        await db.close()
