"""Residents and their personal data: sealed at rest, every access logged, read only by their carers.

A resident row holds a room label and device ids in the clear (what alarms and lists show) and the
personal record sealed (``crypto.RecordCipher``): name, birth date, conditions and caregiver notes.
Reading, changing or exporting the record needs a stated purpose and writes an access-log entry in
the same transaction. The record is open to the organisation's administrators and to the caregivers
assigned to the resident; everyone else in the organisation sees the label only.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.apps.health.accesslog import AccessLog, actor_of, check_purpose
from iplus.apps.health.crypto import KEY_VERSION, RecordCipher, RecordIntegrityError
from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.core.ids import new_id
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device, Membership, User
from iplus.infra.db.models_health import HealthCaregiver, HealthResident
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
PERSONAL_FIELDS = ("name", "birth_date", "conditions", "notes")
DAMAGED = "(the sealed record fails its integrity check)"
MAX_CONDITIONS = 50
MAX_NOTES = 500
MAX_NOTE = 5000


def _problems_of_personal(doc: dict[str, Any], *, creating: bool) -> list[str]:
    problems = []
    if "name" in doc or creating:
        name = doc.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            problems.append("/name: the resident's name, 1 to 200 characters")
    if "birth_date" in doc or creating:
        raw = doc.get("birth_date")
        try:
            born = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
        except ValueError:
            born = None
        if born is None:
            problems.append("/birth_date: a date as YYYY-MM-DD")
        elif not date(1890, 1, 1) <= born <= utcnow().date():
            problems.append("/birth_date: between 1890-01-01 and today")
    if "conditions" in doc:
        conditions = doc["conditions"]
        if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
            problems.append(f"/conditions: a list of at most {MAX_CONDITIONS} conditions")
        else:
            problems += [
                f"/conditions/{i}: a condition of 1 to 200 characters"
                for i, c in enumerate(conditions)
                if not isinstance(c, str) or not 1 <= len(c.strip()) <= 200
            ]
    return problems


def _label_problems(doc: dict[str, Any], *, creating: bool) -> list[str]:
    problems = []
    if "label" in doc or creating:
        label = doc.get("label")
        if not isinstance(label, str) or not 1 <= len(label.strip()) <= 100:
            problems.append("/label: the room or bed label staff use, 1 to 100 characters")
    for key in ("wearable_id", "cgm_id"):
        value = doc.get(key)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 64):
            problems.append(f"/{key}: a device id of this organisation, or null")
    return problems


def public_json(r: HealthResident, caregivers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What anyone in the organisation may see of a resident: no personal data."""
    return {
        "id": r.id,
        "label": r.label,
        "wearable_id": r.wearable_id,
        "cgm_id": r.cgm_id,
        "caregivers": caregivers or [],
        "created_at": as_utc(r.created_at).isoformat(),
        "updated_at": as_utc(r.updated_at).isoformat(),
    }


class Records:
    """Residents of care organisations, their sealed records, caregivers and the access log."""

    def __init__(self, db: Database, cipher: RecordCipher) -> None:
        self.db = db
        self.cipher = cipher
        self.log = AccessLog(db)

    # helpers -------------------------------------------------------------------------
    async def _resident(self, s: AsyncSession, caller: Principal, resident_id: str) -> HealthResident:
        r = await s.scalar(
            select(HealthResident).where(
                HealthResident.id == resident_id, HealthResident.org_id == caller.org_id
            )
        )
        if r is None:
            raise NotFound(f"resident {resident_id} not found")
        return r

    @staticmethod
    async def _is_caregiver(s: AsyncSession, resident_id: str, user_id: str | None) -> bool:
        if user_id is None:
            return False
        found = await s.scalar(
            select(HealthCaregiver.id).where(
                HealthCaregiver.resident_id == resident_id, HealthCaregiver.user_id == user_id
            )
        )
        return found is not None

    async def _require_access(self, s: AsyncSession, caller: Principal, resident: HealthResident) -> None:
        if caller.is_admin or await self._is_caregiver(s, resident.id, caller.user_id):
            return
        raise Forbidden(
            f"the record of {resident.label} is open to its caregivers and the organisation's administrators"
        )

    @staticmethod
    async def _device_problems(s: AsyncSession, org_id: str, doc: dict[str, Any]) -> list[str]:
        problems = []
        for key in ("wearable_id", "cgm_id"):
            device_id = doc.get(key)
            if isinstance(device_id, str):
                found = await s.scalar(
                    select(Device.id).where(Device.id == device_id, Device.org_id == org_id)
                )
                if found is None:
                    problems.append(f"/{key}: no device {device_id!r} in this organisation")
        return problems

    @staticmethod
    async def _caregivers(s: AsyncSession, resident_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not resident_ids:
            return {}
        rows = await s.execute(
            select(HealthCaregiver.resident_id, User.id, User.name, User.email)
            .join(User, User.id == HealthCaregiver.user_id)
            .where(HealthCaregiver.resident_id.in_(resident_ids))
            .order_by(User.name)
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for resident_id, user_id, name, email in rows.all():
            out.setdefault(resident_id, []).append({"user_id": user_id, "name": name, "email": email})
        return out

    # residents -----------------------------------------------------------------------
    async def create(self, caller: Principal, doc: Any, purpose: Any) -> dict[str, Any]:
        """An administrator of a care provider admits a resident: label, devices, the record (sealed)."""
        caller.require_admin()
        caller.require_role(Role.PROVIDER)
        if not isinstance(doc, dict):
            raise InvalidInput("a resident: an object with label, name, birth_date, conditions, devices")
        why = check_purpose(purpose)
        known = {"label", "wearable_id", "cgm_id", "name", "birth_date", "conditions", "note"}
        problems = [f"/{k}: unknown field" for k in doc if k not in known]
        problems += _label_problems(doc, creating=True) + _problems_of_personal(doc, creating=True)
        note = doc.get("note")
        if note is not None and (not isinstance(note, str) or not 1 <= len(note.strip()) <= MAX_NOTE):
            problems.append(f"/note: a first caregiver note of 1 to {MAX_NOTE} characters, or null")
        async with self.db.transaction() as s:
            problems += await self._device_problems(s, caller.org_id, doc)
            if problems:
                raise InvalidInput("the resident cannot be admitted", errors=problems)
            now = utcnow()
            resident_id = new_id()
            record = {
                "name": doc["name"].strip(),
                "birth_date": doc["birth_date"],
                "conditions": [c.strip() for c in doc.get("conditions") or []],
                "notes": (
                    [{"at": now.isoformat(), "by": actor_of(caller), "text": note.strip()}] if note else []
                ),
            }
            resident = HealthResident(
                id=resident_id,
                org_id=caller.org_id,
                label=doc["label"].strip(),
                wearable_id=doc.get("wearable_id"),
                cgm_id=doc.get("cgm_id"),
                sealed=self.cipher.seal(caller.org_id, resident_id, record),
                key_version=KEY_VERSION,
                created_at=now,
                updated_at=now,
            )
            s.add(resident)
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict(
                    "a resident with that label, or another resident wearing one of those devices, exists"
                ) from None
            await self.log.append(
                s,
                org_id=caller.org_id,
                resident_id=resident_id,
                action="create",
                fields=list(PERSONAL_FIELDS),
                actor=actor_of(caller),
                purpose=why,
            )
            return public_json(resident)

    async def residents(self, caller: Principal) -> list[dict[str, Any]]:
        """The organisation's residents with their caregivers; no personal data, so no access is logged."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = list(
                (
                    await s.scalars(
                        select(HealthResident)
                        .where(HealthResident.org_id == caller.org_id)
                        .order_by(HealthResident.label)
                    )
                ).all()
            )
            carers = await self._caregivers(s, [r.id for r in rows])
        return [public_json(r, carers.get(r.id)) for r in rows]

    async def get(self, caller: Principal, resident_id: str) -> dict[str, Any]:
        """One resident without personal data."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            carers = await self._caregivers(s, [r.id])
        return public_json(r, carers.get(r.id))

    async def read(
        self, caller: Principal, resident_id: str, purpose: Any, fields: tuple[str, ...] = PERSONAL_FIELDS
    ) -> dict[str, Any]:
        """The personal record (only ``fields`` of it), opened for a stated purpose and logged."""
        caller.require_scope(Scope.READ)
        why = check_purpose(purpose)
        wanted = [f for f in fields if f in PERSONAL_FIELDS] or list(PERSONAL_FIELDS)
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            await self._require_access(s, caller, r)
            record = self.cipher.open(r.org_id, r.id, r.sealed)
            await self.log.append(
                s,
                org_id=r.org_id,
                resident_id=r.id,
                action="read",
                fields=wanted,
                actor=actor_of(caller),
                purpose=why,
            )
            carers = await self._caregivers(s, [r.id])
        return public_json(r, carers.get(r.id)) | {"record": {k: record.get(k) for k in wanted}}

    async def authorise(
        self, caller: Principal, resident_id: str, purpose: Any, fields: list[str]
    ) -> dict[str, Any]:
        """Check the caller may see a resident's health data (``fields``, e.g. glucose) and log the read."""
        caller.require_scope(Scope.READ)
        why = check_purpose(purpose)
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            await self._require_access(s, caller, r)
            await self.log.append(
                s,
                org_id=r.org_id,
                resident_id=r.id,
                action="read",
                fields=fields,
                actor=actor_of(caller),
                purpose=why,
            )
        return public_json(r)

    async def names(self, caller: Principal, resident_ids: list[str], purpose: str) -> dict[str, str]:
        """The names of the residents the caller may see, each read logged (lists of one's residents)."""
        why = check_purpose(purpose)
        out: dict[str, str] = {}
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(HealthResident).where(
                        HealthResident.org_id == caller.org_id, HealthResident.id.in_(resident_ids)
                    )
                )
            ).all()
            for r in rows:
                if not (caller.is_admin or await self._is_caregiver(s, r.id, caller.user_id)):
                    continue
                try:
                    out[r.id] = str(self.cipher.open(r.org_id, r.id, r.sealed).get("name", ""))
                except RecordIntegrityError:
                    # one damaged record must not hide the caregiver's other residents (or their alarms)
                    log.error("resident record %s fails its integrity check", r.id)
                    out[r.id] = DAMAGED
                    continue
                await self.log.append(
                    s,
                    org_id=r.org_id,
                    resident_id=r.id,
                    action="read",
                    fields=["name"],
                    actor=actor_of(caller),
                    purpose=why,
                )
        return out

    async def update(self, caller: Principal, resident_id: str, changes: Any, purpose: Any) -> dict[str, Any]:
        """Change the label, devices or personal fields (administrators; caregivers add notes instead)."""
        caller.require_admin()
        why = check_purpose(purpose)
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput("changes: an object of the fields to change")
        known = {"label", "wearable_id", "cgm_id", "name", "birth_date", "conditions"}
        problems = [f"/{k}: unknown or read-only field" for k in changes if k not in known]
        problems += _label_problems(changes, creating=False) + _problems_of_personal(changes, creating=False)
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            problems += await self._device_problems(s, caller.org_id, changes)
            if problems:
                raise InvalidInput("the record cannot be changed", errors=problems)
            personal = [k for k in changes if k in PERSONAL_FIELDS]
            if personal:
                record = self.cipher.open(r.org_id, r.id, r.sealed)
                for k in personal:
                    value = changes[k]
                    record[k] = value.strip() if isinstance(value, str) else [c.strip() for c in value]
                r.sealed = self.cipher.seal(r.org_id, r.id, record)
            for k in ("label", "wearable_id", "cgm_id"):
                if k in changes:
                    setattr(r, k, changes[k].strip() if k == "label" else changes[k])
            r.updated_at = utcnow()
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict("another resident has that label or wears one of those devices") from None
            await self.log.append(
                s,
                org_id=r.org_id,
                resident_id=r.id,
                action="write",
                fields=sorted(changes),
                actor=actor_of(caller),
                purpose=why,
            )
            return public_json(r)

    async def add_note(self, caller: Principal, resident_id: str, text: Any, purpose: Any) -> dict[str, Any]:
        """A caregiver (or administrator) adds a dated note to the sealed record."""
        caller.require_scope(Scope.WRITE)
        why = check_purpose(purpose)
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= MAX_NOTE:
            raise InvalidInput("the note cannot be added", errors=[f"/text: 1 to {MAX_NOTE} characters"])
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            await self._require_access(s, caller, r)
            record = self.cipher.open(r.org_id, r.id, r.sealed)
            notes = list(record.get("notes") or [])
            if len(notes) >= MAX_NOTES:
                raise Conflict(f"the record holds {MAX_NOTES} notes already: export and archive it")
            note = {"at": utcnow().isoformat(), "by": actor_of(caller), "text": text.strip()}
            record["notes"] = [*notes, note]
            r.sealed = self.cipher.seal(r.org_id, r.id, record)
            r.updated_at = utcnow()
            await self.log.append(
                s,
                org_id=r.org_id,
                resident_id=r.id,
                action="write",
                fields=["notes"],
                actor=actor_of(caller),
                purpose=why,
            )
        return note

    async def export(self, caller: Principal, resident_id: str, purpose: Any) -> dict[str, Any]:
        """Everything held about a resident (record, devices, carers, access history), logged as an export."""
        caller.require_admin()
        why = check_purpose(purpose)
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            record = self.cipher.open(r.org_id, r.id, r.sealed)
            await self.log.append(
                s,
                org_id=r.org_id,
                resident_id=r.id,
                action="export",
                fields=list(PERSONAL_FIELDS),
                actor=actor_of(caller),
                purpose=why,
            )
            carers = await self._caregivers(s, [r.id])
            history = await self.log.of_resident(s, r.org_id, r.id)
        return public_json(r, carers.get(r.id)) | {
            "record": record,
            "access_log": history,
            "exported_at": utcnow().isoformat(),
        }

    # caregivers ----------------------------------------------------------------------
    async def assign(self, caller: Principal, resident_id: str, user_id: str) -> dict[str, Any]:
        """An administrator makes a member of the organisation a caregiver of the resident."""
        caller.require_admin()
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            member = await s.scalar(
                select(Membership.id).where(Membership.org_id == caller.org_id, Membership.user_id == user_id)
            )
            if member is None:
                raise InvalidInput(
                    "the caregiver cannot be assigned",
                    errors=[f"/user_id: {user_id!r} is not a member of this organisation"],
                )
            if await self._is_caregiver(s, r.id, user_id):
                raise Conflict("that member already cares for this resident")
            s.add(HealthCaregiver(org_id=caller.org_id, resident_id=r.id, user_id=user_id))
            await s.flush()
            carers = await self._caregivers(s, [r.id])
        return public_json(r, carers.get(r.id))

    async def unassign(self, caller: Principal, resident_id: str, user_id: str) -> None:
        """An administrator takes a caregiver off a resident."""
        caller.require_admin()
        async with self.db.transaction() as s:
            r = await self._resident(s, caller, resident_id)
            done = await s.execute(
                delete(HealthCaregiver).where(
                    HealthCaregiver.resident_id == r.id, HealthCaregiver.user_id == user_id
                )
            )
            if not getattr(done, "rowcount", 0):
                raise NotFound("that member is not a caregiver of this resident")

    async def cared_for(self, caller: Principal) -> list[str]:
        """Ids of the residents the caller is a caregiver of."""
        if caller.user_id is None:
            return []
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(HealthCaregiver.resident_id).where(
                    HealthCaregiver.org_id == caller.org_id, HealthCaregiver.user_id == caller.user_id
                )
            )
            return list(rows.all())

    async def caregiver_ids(self, org_id: str, resident_id: str) -> list[str]:
        """User ids of a resident's caregivers (alarm routing)."""
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(HealthCaregiver.user_id).where(
                    HealthCaregiver.org_id == org_id, HealthCaregiver.resident_id == resident_id
                )
            )
            return list(rows.all())
