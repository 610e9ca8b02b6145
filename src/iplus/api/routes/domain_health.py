"""Public health and elderly care: residents' sealed records, NEWS2 alarms, CGM reports, visits, access log.

Every read, change or export of a resident's personal data states its ``purpose`` and is written to the
organisation's access log; requests without one are refused (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.apps.health.records import PERSONAL_FIELDS
from iplus.apps.health.service import care

router = APIRouter(prefix="/care", tags=["health and elderly care"])
Purpose = Annotated[str, Query(max_length=500, description="why the personal data is accessed (logged)")]


class ResidentIn(BaseModel):
    """A resident to admit, and why."""

    resident: dict[str, Any] = Field(
        description="label, wearable_id, cgm_id, name, birth_date (YYYY-MM-DD), conditions, note"
    )
    purpose: str = Field(default="", max_length=500)


class ChangesIn(BaseModel):
    """Fields of a record to change, and why."""

    changes: dict[str, Any]
    purpose: str = Field(default="", max_length=500)


class NoteIn(BaseModel):
    """A caregiver note, and why."""

    text: str = Field(max_length=5000)
    purpose: str = Field(default="", max_length=500)


class MoveIn(BaseModel):
    """A provider's move of a care order."""

    status: str = Field(max_length=20)
    reason: str = Field(default="", max_length=2000)


@router.get("/residents")
async def list_residents(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """The organisation's residents with their newest NEWS2 and vitals (no personal data)."""
    return await care(ctx).overview(caller)


@router.post("/residents", status_code=status.HTTP_201_CREATED)
async def admit(ctx: ContextDep, caller: Writer, body: ResidentIn) -> dict[str, Any]:
    """Admit a resident (administrators); the personal record is sealed at rest."""
    return await care(ctx).admit(caller, body.resident, body.purpose)


@router.get("/residents/{resident_id}")
async def get_resident(ctx: ContextDep, caller: Reader, resident_id: ObjectId) -> dict[str, Any]:
    """One resident without personal data."""
    return await care(ctx).records.get(caller, resident_id)


@router.get("/residents/{resident_id}/record")
async def read_record(
    ctx: ContextDep,
    caller: Reader,
    resident_id: ObjectId,
    purpose: Purpose = "",
    fields: Annotated[str | None, Query(max_length=200, description="comma-separated, e.g. name")] = None,
) -> dict[str, Any]:
    """Open the personal record (caregivers of the resident and administrators); the read is logged."""
    wanted = tuple(f.strip() for f in fields.split(",")) if fields else PERSONAL_FIELDS
    return await care(ctx).records.read(caller, resident_id, purpose, wanted)


@router.patch("/residents/{resident_id}/record")
async def change_record(
    ctx: ContextDep, caller: Writer, resident_id: ObjectId, body: ChangesIn
) -> dict[str, Any]:
    """Change the label, devices or personal fields (administrators); the write is logged."""
    return await care(ctx).change(caller, resident_id, body.changes, body.purpose)


@router.post("/residents/{resident_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(ctx: ContextDep, caller: Writer, resident_id: ObjectId, body: NoteIn) -> dict[str, Any]:
    """Add a caregiver note to the sealed record; the write is logged."""
    return await care(ctx).records.add_note(caller, resident_id, body.text, body.purpose)


@router.get("/residents/{resident_id}/export")
async def export_record(ctx: ContextDep, caller: Writer, resident_id: ObjectId, purpose: Purpose = "") -> Any:
    """Everything held about the resident, with its access history (administrators); logged."""
    return await care(ctx).records.export(caller, resident_id, purpose)


@router.put("/residents/{resident_id}/caregivers/{user_id}")
async def assign(ctx: ContextDep, caller: Writer, resident_id: ObjectId, user_id: ObjectId) -> dict[str, Any]:
    """Make a member of the organisation a caregiver of the resident (administrators)."""
    return await care(ctx).records.assign(caller, resident_id, user_id)


@router.delete("/residents/{resident_id}/caregivers/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unassign(ctx: ContextDep, caller: Writer, resident_id: ObjectId, user_id: ObjectId) -> Response:
    """Take a caregiver off the resident (administrators)."""
    await care(ctx).records.unassign(caller, resident_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/residents/{resident_id}/news2")
async def news2_history(ctx: ContextDep, caller: Reader, resident_id: ObjectId) -> list[dict[str, Any]]:
    """The resident's NEWS2 assessments, each change of score, oldest first."""
    await care(ctx).records.get(caller, resident_id)
    return await care(ctx).history(caller, resident_id)


@router.get("/residents/{resident_id}/cgm")
async def cgm_report(
    ctx: ContextDep,
    caller: Reader,
    resident_id: ObjectId,
    purpose: Purpose = "",
    days: Annotated[int, Query(ge=1, le=120)] = 28,
    targets: Annotated[str, Query(pattern="^(standard|older_high_risk)$")] = "older_high_risk",
) -> dict[str, Any]:
    """CGM metrics per day and week with the trend (caregivers and administrators); the read is logged."""
    return await care(ctx).glucose.report(caller, resident_id, purpose, days=days, targets=targets)


@router.get("/alarms")
async def news2_alarms(
    ctx: ContextDep, caller: Reader, mine: Annotated[bool, Query(description="only my residents'")] = False
) -> list[dict[str, Any]]:
    """Active NEWS2 alarms of the organisation, or of the residents the caller cares for."""
    services = care(ctx)
    return await (services.caregiver_alarms(caller) if mine else services.news2_alarms(caller))


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge(ctx: ContextDep, caller: Writer, alarm_id: ObjectId) -> dict[str, Any]:
    """A caregiver of the resident (or an administrator) acknowledges a NEWS2 alarm."""
    return await care(ctx).acknowledge(caller, alarm_id)


@router.get("/access-log")
async def access_log(
    ctx: ContextDep,
    caller: Reader,
    org_id: Annotated[str | None, Query(max_length=26, description="operators: another organisation")] = None,
    resident_id: Annotated[str | None, Query(max_length=26)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Who accessed which record, when and why, newest first (administrators, the operator's)."""
    items, total = await care(ctx).records.log.entries(
        caller, org_id, resident_id=resident_id, offset=offset, limit=limit
    )
    return {"items": items, "total": total}


@router.get("/access-log/verify")
async def verify_log(
    ctx: ContextDep, caller: Reader, org_id: Annotated[str | None, Query(max_length=26)] = None
) -> dict[str, Any]:
    """Walk the log's hash chain: is every entry there and unchanged?"""
    return await care(ctx).records.log.verify(caller, org_id)


@router.post("/visits", status_code=status.HTTP_201_CREATED)
async def order_visit(
    ctx: ContextDep,
    caller: Writer,
    body: Annotated[
        dict[str, Any],
        Body(examples=[{"title": "Mum, Tuesday", "focus": "medication", "nursing": True, "deadline_h": 48}]),
    ],
) -> dict[str, Any]:
    """A family orders a care visit (and a nursing check): selection and a run that orders it."""
    return await care(ctx).visits.order(caller, body)


@router.get("/visits")
async def family_visits(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """The family's visits with their runs."""
    return await care(ctx).visits.of_family(caller)


@router.get("/visit-orders")
async def visit_orders(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """Care orders the provider received."""
    return await care(ctx).visits.received(caller)


@router.post("/visit-orders/{order_id}/status")
async def move_visit_order(
    ctx: ContextDep, caller: Writer, order_id: ObjectId, body: MoveIn
) -> dict[str, Any]:
    """The provider accepts, rejects, starts, completes or fails a care order."""
    return await care(ctx).visits.move(caller, order_id, body.status, body.reason)
