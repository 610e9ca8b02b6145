"""Agriculture: farms and fields, irrigation decisions, and traceability batches with their public look-up."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.apps.agriculture.scheduling import decision_dict
from iplus.apps.agriculture.service import agriculture
from iplus.apps.agriculture.trace import CODE_PATTERN, StepInput, qr_document, record_dict, step_dict

router = APIRouter(tags=["agriculture"])
Code = Annotated[str, Path(pattern=CODE_PATTERN, description="a batch's public code")]
DeviceRef = Annotated[str | None, Field(default=None, min_length=1, max_length=64)]


class FarmIn(BaseModel):
    """A farm: where it is, its elevation, its weather station and machines (device ids)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude: float = Field(ge=-500, le=9000, description="elevation above sea level, m")
    station_device: DeviceRef = None
    machinery: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class FieldIn(BaseModel):
    """A field of a farm with its FAO-56 soil and crop parameters and its probe and valve (device ids)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    farm_id: str = Field(min_length=1, max_length=64)
    crop: str = Field(default="", max_length=100)
    theta_fc: float = Field(description="θFC, m3/m3")
    theta_wp: float = Field(description="θWP, m3/m3")
    root_depth: float = Field(description="Zr, m")
    p_table: float = Field(description="p of FAO-56 Table 22")
    kc: float = Field(description="crop coefficient")
    efficiency: float = Field(default=1.0, description="application efficiency, 0-1")
    application_rate: float = Field(default=10.0, description="gross application rate while open, mm/h")
    area_ha: float | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    probe_device: DeviceRef = None
    valve_device: DeviceRef = None


class DecideIn(BaseModel):
    """Which day to decide on (default: the station's newest complete day)."""

    model_config = ConfigDict(extra="forbid")
    day: date | None = None


class StepIn(BaseModel):
    """One step of a batch's record."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["harvest", "processing", "transport", "shelf"]
    actor: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=200)
    at: datetime | None = Field(default=None, description="when (ISO 8601 with offset); default now")
    data: dict[str, Any] = Field(default_factory=dict)

    def input(self) -> StepInput:
        """The service's step."""
        return StepInput(self.kind, self.actor, self.location, self.at, self.data)


class BatchIn(BaseModel):
    """A batch and its harvest."""

    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=200)
    quantity: float | None = Field(default=None, gt=0)
    unit: str = Field(default="kg", min_length=1, max_length=20)
    field_id: str | None = Field(default=None, max_length=64)
    harvest: StepIn


def trace_url(request: Request, code: str) -> str:
    """The public page of a batch, on the address this request came to."""
    return str(request.base_url).rstrip("/") + f"/trace/{code}"


@router.get("/agriculture/fields")
async def list_fields(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """The organisation's fields: parameters, live soil state, devices and newest decision."""
    return await agriculture(ctx).field_views(caller)


@router.get("/agriculture/fields/{field_id}")
async def get_field(ctx: ContextDep, caller: Reader, field_id: ObjectId) -> dict[str, Any]:
    """One field."""
    agri = agriculture(ctx)
    return await agri.field_view(caller, await ctx.virtual.get_own(caller, field_id))


@router.post("/agriculture/farms", status_code=status.HTTP_201_CREATED)
async def create_farm(ctx: ContextDep, caller: Writer, body: FarmIn) -> dict[str, Any]:
    """Create a farm (a virtual thing of type farm)."""
    thing = await agriculture(ctx).create_farm(
        caller,
        title=body.title,
        latitude=body.latitude,
        longitude=body.longitude,
        altitude=body.altitude,
        station_id=body.station_device,
        machinery=tuple(body.machinery),
    )
    return {"id": thing.id, "title": thing.title, "type": thing.type, "attributes": thing.attributes}


@router.post("/agriculture/fields", status_code=status.HTTP_201_CREATED)
async def create_field(ctx: ContextDep, caller: Writer, body: FieldIn) -> dict[str, Any]:
    """Create a field (a virtual thing of type field); every parameter problem comes with its path."""
    params = body.model_dump(
        include={
            "theta_fc",
            "theta_wp",
            "root_depth",
            "p_table",
            "kc",
            "efficiency",
            "application_rate",
            "crop",
        }
    )
    agri = agriculture(ctx)
    thing = await agri.create_field(
        caller,
        title=body.title,
        farm_id=body.farm_id,
        parameters=params,
        latitude=body.latitude,
        longitude=body.longitude,
        probe_id=body.probe_device,
        valve_id=body.valve_device,
        area_ha=body.area_ha,
    )
    return await agri.field_view(caller, thing)


@router.post("/agriculture/fields/{field_id}/decisions")
async def decide(
    ctx: ContextDep, caller: Writer, field_id: ObjectId, body: DecideIn | None = None
) -> dict[str, Any]:
    """Decide on a day (once per field and day: asking again answers the decision made)."""
    agri = agriculture(ctx)
    decision = await agri.scheduler.decide(caller, field_id, body.day if body else None, trigger="manual")
    return decision_dict(decision, await agri.scheduler.command_of(caller, decision))


@router.get("/agriculture/fields/{field_id}/decisions")
async def field_decisions(
    ctx: ContextDep,
    caller: Reader,
    field_id: ObjectId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """A field's newest decisions."""
    agri = agriculture(ctx)
    await ctx.virtual.get_own(caller, field_id)
    out = []
    for d in await agri.scheduler.decisions(caller, field_id, limit=limit):
        out.append(decision_dict(d, await agri.scheduler.command_of(caller, d)))
    return out


@router.get("/agriculture/decisions/{decision_id}")
async def get_decision(ctx: ContextDep, caller: Reader, decision_id: ObjectId) -> dict[str, Any]:
    """One decision with its inputs, intermediates and the valve command's current status."""
    agri = agriculture(ctx)
    decision = await agri.scheduler.get(caller, decision_id)
    return decision_dict(decision, await agri.scheduler.command_of(caller, decision))


@router.get("/agriculture/batches")
async def list_batches(
    ctx: ContextDep, request: Request, caller: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The organisation's newest batches."""
    return [
        {
            "id": b.id,
            "code": b.code,
            "product": b.product,
            "quantity": b.quantity,
            "unit": b.unit,
            "steps": b.steps,
            "head_hash": b.head_hash,
            "created_at": b.created_at.isoformat(),
            "trace_url": trace_url(request, b.code),
        }
        for b in await agriculture(ctx).trace.batches(caller, limit=limit)
    ]


@router.post("/agriculture/batches", status_code=status.HTTP_201_CREATED)
async def create_batch(ctx: ContextDep, request: Request, caller: Writer, body: BatchIn) -> dict[str, Any]:
    """Create a batch with its harvest as step 1."""
    record = await agriculture(ctx).trace.create_batch(
        caller,
        product=body.product,
        quantity=body.quantity,
        unit=body.unit,
        field_id=body.field_id,
        harvest=body.harvest.input(),
    )
    return record_dict(record, trace_url(request, record.batch.code))


@router.get("/agriculture/batches/{batch_id}")
async def get_batch(ctx: ContextDep, request: Request, caller: Reader, batch_id: ObjectId) -> dict[str, Any]:
    """A batch with its steps and whether its chain verifies."""
    record = await agriculture(ctx).trace.record(caller, batch_id)
    return record_dict(record, trace_url(request, record.batch.code))


@router.post("/agriculture/batches/{batch_id}/steps", status_code=status.HTTP_201_CREATED)
async def add_step(ctx: ContextDep, caller: Writer, batch_id: ObjectId, body: StepIn) -> dict[str, Any]:
    """Append a step to a batch's record."""
    return step_dict(await agriculture(ctx).trace.add_step(caller, batch_id, body.input()))


@router.get("/agriculture/batches/{batch_id}/verify")
async def verify_batch(ctx: ContextDep, caller: Reader, batch_id: ObjectId) -> dict[str, Any]:
    """Recompute the batch's hash chain from what is stored: ok, or which steps are broken and why."""
    return (await agriculture(ctx).trace.verify(caller, batch_id)).as_dict()


@router.get("/agriculture/batches/{batch_id}/qr.svg", response_class=Response)
async def batch_qr(ctx: ContextDep, request: Request, caller: Reader, batch_id: ObjectId) -> Response:
    """The batch's QR code (SVG) pointing to its public page."""
    record = await agriculture(ctx).trace.record(caller, batch_id)
    return Response(qr_document(trace_url(request, record.batch.code)), media_type="image/svg+xml")


@router.get("/trace/{code}")
async def public_trace(ctx: ContextDep, request: Request, code: Code) -> dict[str, Any]:
    """A batch's record by its public code, with whether it verifies (no credentials needed)."""
    found = await agriculture(ctx).public.lookup(code)
    out = record_dict(found.record, trace_url(request, code))
    for private in ("id", "field_id"):
        out.pop(private)
    return {**out, "field": found.field_title, "crop": found.crop}
