"""Residents' records on SQLite and PostgreSQL: sealed at rest, access checked and logged, log append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from iplus.apps.health.crypto import RecordCipher, RecordIntegrityError
from iplus.apps.health.records import DAMAGED, Records
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.infra.db.engine import Database
from tests.apps.health.helpers import SECRET, Home, care_home

ADA = {
    "label": "Room 7",
    "wearable_id": "w-1",
    "name": "Ada Lovelace-Example",
    "birth_date": "1941-12-10",
    "conditions": ["type 2 diabetes", "glaucoma"],
    "note": "Prefers tea at four",
}


async def admitted(db: Database) -> tuple[Records, Home, str]:
    home = await care_home(db)
    records = Records(db, RecordCipher(SECRET))
    made = await records.create(home.admin, ADA, "admission to the home")
    await records.assign(home.admin, made["id"], home.carer.user_id or "")
    return records, home, made["id"]


async def test_the_stored_bytes_hold_no_plaintext_and_a_tampered_record_is_refused(
    database: Database,
) -> None:
    records, home, rid = await admitted(database)
    async with database.engine.connect() as conn:
        row = (
            (await conn.execute(text("SELECT * FROM health_residents WHERE id = :i"), {"i": rid}))
            .mappings()
            .one()
        )
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    for secret in ("Ada", "Lovelace", "1941", "diabetes", "glaucoma", "tea at four"):
        assert secret.encode() not in stored, secret
    assert row["label"] == "Room 7" and row["wearable_id"] == "w-1"

    opened = await records.read(home.carer, rid, "morning round")
    assert opened["record"]["name"] == "Ada Lovelace-Example"
    assert opened["record"]["notes"][0]["text"] == "Prefers tea at four"

    # flip one byte of the ciphertext in the store: the record is refused, nothing is shown
    sealed = bytearray(row["sealed"])
    sealed[20] ^= 0xFF
    async with database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE health_residents SET sealed = :b WHERE id = :i"), {"b": bytes(sealed), "i": rid}
        )
    with pytest.raises(RecordIntegrityError):
        await records.read(home.carer, rid, "morning round")
    # a blob copied from another resident does not open either (the record id is associated data)
    other = await records.create(home.admin, ADA | {"label": "Room 8", "wearable_id": "w-2"}, "admission")
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE health_residents SET sealed = (SELECT sealed FROM health_residents WHERE id = :o) WHERE id = :i"
            ),
            {"o": other["id"], "i": rid},
        )
    with pytest.raises(RecordIntegrityError):
        await records.read(home.admin, rid, "checking")


async def test_only_caregivers_and_administrators_open_a_record_each_access_logged(sqlite: Database) -> None:
    records, home, rid = await admitted(sqlite)
    await records.read(home.carer, rid, "morning round", fields=("name",))
    await records.read(home.admin, rid, "care plan review")
    with pytest.raises(Forbidden):
        await records.read(home.member, rid, "curious")
    with pytest.raises(Forbidden):
        await records.read(home.carer2, rid, "covering a shift")
    with pytest.raises(NotFound):
        await records.read(home.outsider, rid, "another home")
    with pytest.raises(InvalidInput) as exc:
        await records.read(home.carer, rid, "  ")
    assert exc.value.extra["errors"] == ["/purpose: say why, in 3 to 500 characters"]
    await records.add_note(home.carer, rid, "Walked to the garden", "care delivery")
    exported = await records.export(home.admin, rid, "family asked for a copy")
    assert [n["text"] for n in exported["record"]["notes"]] == ["Prefers tea at four", "Walked to the garden"]

    entries, total = await records.log.entries(home.admin)
    assert total == 5
    # newest first: export, note, admin read, carer read (name only), admission
    assert [(e["action"], e["purpose"]) for e in entries] == [
        ("export", "family asked for a copy"),
        ("write", "care delivery"),
        ("read", "care plan review"),
        ("read", "morning round"),
        ("create", "admission to the home"),
    ]
    assert entries[3]["fields"] == ["name"] and entries[3]["actor"] == f"user:{home.carer.user_id}"
    assert [e["action"] for e in exported["access_log"]] == ["create", "read", "read", "write", "export"]
    # refused accesses opened nothing and are not in the log; listing residents opens no personal data
    listed = await records.residents(home.member)
    assert listed[0]["label"] == "Room 7" and "record" not in listed[0]
    assert (await records.log.entries(home.admin))[1] == 5


async def test_who_reads_the_log(sqlite: Database) -> None:
    records, home, _rid = await admitted(sqlite)
    assert (await records.log.entries(home.operator, home.admin.org_id))[1] == 1
    for who in (home.carer, home.member):
        with pytest.raises(Forbidden):
            await records.log.entries(who)
    with pytest.raises(Forbidden):
        await records.log.entries(home.outsider, home.admin.org_id)
    assert (await records.log.entries(home.outsider))[1] == 0


async def test_the_log_is_append_only_and_its_chain_finds_tampering(database: Database) -> None:
    records, home, rid = await admitted(database)
    for i in range(3):
        await records.read(home.carer, rid, f"round {i}")
    assert (await records.log.verify(home.admin)) == {
        "org_id": home.admin.org_id,
        "entries": 4,
        "ok": True,
        "problems": [],
    }
    for sql in ("UPDATE health_access_log SET purpose = 'nothing to see'", "DELETE FROM health_access_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.engine.begin() as conn:
                await conn.execute(text(sql))
    # someone with the store's owner rights drops the guard and rewrites an entry: the chain tells
    postgres = database.engine.dialect.name == "postgresql"
    async with database.engine.begin() as conn:
        drop = (
            "health_access_log_no_change ON health_access_log" if postgres else "health_access_log_no_update"
        )
        await conn.execute(text(f"DROP TRIGGER {drop}"))
        await conn.execute(text("UPDATE health_access_log SET purpose = 'nothing to see' WHERE seq = 2"))
    report = await records.log.verify(home.operator, home.admin.org_id)
    assert not report["ok"] and report["problems"] == [
        "entry 2 was altered: its content does not match its hash"
    ]


async def test_bad_admissions_list_every_problem_and_store_nothing(sqlite: Database) -> None:
    records, home, _rid = await admitted(sqlite)
    with pytest.raises(InvalidInput) as exc:
        await records.create(
            home.admin,
            {
                "label": "",
                "wearable_id": "nope",
                "name": "",
                "birth_date": "1941-13-01",
                "conditions": [""],
                "x": 1,
            },
            "admission",
        )
    assert exc.value.extra["errors"] == [
        "/x: unknown field",
        "/label: the room or bed label staff use, 1 to 100 characters",
        "/name: the resident's name, 1 to 200 characters",
        "/birth_date: a date as YYYY-MM-DD",
        "/conditions/0: a condition of 1 to 200 characters",
        "/wearable_id: no device 'nope' in this organisation",
    ]
    with pytest.raises(Conflict):
        await records.create(home.admin, ADA | {"label": "Room 9"}, "admission")  # w-1 is worn already
    with pytest.raises(Forbidden):
        await records.create(home.carer, ADA | {"label": "Room 9", "wearable_id": None}, "admission")
    assert len(await records.residents(home.admin)) == 1
    assert (await records.log.entries(home.admin))[1] == 1


async def test_updates_reseal_and_caregivers_are_members(sqlite: Database) -> None:
    records, home, rid = await admitted(sqlite)
    await records.update(
        home.admin, rid, {"conditions": ["type 2 diabetes"], "label": "Room 7a"}, "new diagnosis"
    )
    got = await records.read(home.admin, rid, "check")
    assert got["label"] == "Room 7a" and got["record"]["conditions"] == ["type 2 diabetes"]
    with pytest.raises(InvalidInput):
        await records.assign(home.admin, rid, home.outsider.user_id or "")
    with pytest.raises(Conflict):
        await records.assign(home.admin, rid, home.carer.user_id or "")
    await records.assign(home.admin, rid, home.carer2.user_id or "")
    assert await records.cared_for(home.carer2) == [rid]
    await records.unassign(home.admin, rid, home.carer2.user_id or "")
    assert await records.cared_for(home.carer2) == []
    with pytest.raises(NotFound):
        await records.unassign(home.admin, rid, home.carer2.user_id or "")
    entries, _ = await records.log.entries(home.admin)
    assert entries[1]["action"] == "write" and entries[1]["fields"] == ["conditions", "label"]


async def test_a_damaged_record_does_not_hide_the_caregivers_other_residents(sqlite: Database) -> None:
    records, home, rid = await admitted(sqlite)
    other = await records.create(home.admin, ADA | {"label": "Room 8", "wearable_id": "w-2"}, "admission")
    await records.assign(home.admin, other["id"], home.carer.user_id or "")
    async with sqlite.engine.begin() as conn:
        await conn.execute(
            text("UPDATE health_residents SET sealed = :b WHERE id = :i"), {"b": b"\x01" * 40, "i": rid}
        )
    names = await records.names(home.carer, [rid, other["id"]], "caregiver page")
    assert names == {rid: DAMAGED, other["id"]: "Ada Lovelace-Example"}
    entries, _ = await records.log.entries(home.admin)
    assert [(e["resident_id"], e["fields"]) for e in entries if e["purpose"] == "caregiver page"] == [
        (other["id"], ["name"])
    ]
