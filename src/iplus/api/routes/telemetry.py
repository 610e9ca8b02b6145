"""Telemetry in (per device and in batches) and out (raw, latest, aggregates, export), dead letters."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from iplus.access.codec import Decoded, decode_batch_columns, decode_payload, decode_senml, decode_values
from iplus.access.registry import DEVICE_TOKEN_PREFIX, DeviceIdentity
from iplus.api.deps import ContextDep, ObjectId, Reader, get_principal, get_writer
from iplus.api.schemas import BucketOut, DeadLetterOut, IngestOut, ReadingOut, TelemetryBatchIn
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Message, Selection, to_us

if TYPE_CHECKING:
    from iplus.platform.context import Context

router = APIRouter(tags=["telemetry"])
MAX_LISTED_ERRORS = 200


def _csv(raw: str | None) -> list[str] | None:
    return [x.strip() for x in raw.split(",") if x.strip()] if raw else None


def _refuse(errors: list[dict[str, Any]], total: int) -> InvalidInput:
    return InvalidInput(
        f"{total} message(s) refused; nothing was stored",
        errors=errors[:MAX_LISTED_ERRORS],
        refused=total,
    )


def _message(identity: DeviceIdentity, decoded: Decoded) -> Message:
    return Message(identity.org_id, identity.type_id, identity.device_id, decoded.msg_id, decoded.readings)


@router.post(
    "/devices/{device_id}/telemetry",
    response_model=IngestOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": "{key: value, ts?, msg_id?}"}
                },
                "application/senml+json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "required": True,
        }
    },
)
async def ingest_one(
    ctx: ContextDep,
    device_id: ObjectId,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_message_id: Annotated[str | None, Header(max_length=128)] = None,
) -> IngestOut:
    """A device's own reading(s): flat JSON or SenML; the device's token, or an org key with write scope."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if token.startswith(DEVICE_TOKEN_PREFIX):
        identity = await ctx.registry.authenticate(device_id, token)
    else:
        caller = await get_writer(
            ctx, await get_principal(ctx, token or None, request.headers.get("x-api-key"))
        )
        identity = await ctx.registry.owned(caller.org_id, device_id)
    decoded = decode_payload(await request.body(), identity.properties, msg_id=x_message_id)
    if decoded.reasons:
        raise _refuse([{"index": 0, "device_id": device_id, "reasons": decoded.reasons}], 1)
    fresh = await ctx.ingestor.write([_message(identity, decoded)])
    return IngestOut(stored=sum(fresh), duplicates=len(fresh) - sum(fresh))


async def _known_devices(ctx: Context, org_id: str, items: list[Any]) -> dict[str, DeviceIdentity] | None:
    """The batch's devices by id, or None when one is unknown or not the caller's (or no id is given)."""
    try:
        ids = {item["device_id"] for item in items}
    except (TypeError, KeyError):  # not an object, no device_id, or an id that is not a string
        return None
    known: dict[str, DeviceIdentity] = {}
    for device_id in ids:
        identity = await ctx.registry.identity(device_id) if device_id.__class__ is str else None
        if identity is None or identity.org_id != org_id:
            return None
        known[device_id] = identity
    return known


@router.post(
    "/telemetry",
    response_model=IngestOut,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": TelemetryBatchIn.model_json_schema()}},
            "required": True,
        }
    },
)
async def ingest_batch(ctx: ContextDep, request: Request) -> IngestOut:
    """Messages of many devices of the caller's organisation, stored all or none (write scope)."""
    auth = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
    caller = await get_writer(ctx, await get_principal(ctx, auth, request.headers.get("x-api-key")))
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    items = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise InvalidInput('the body must be {"messages": [...]} with at least one message')
    if len(items) > 100_000:
        raise InvalidInput("at most 100,000 messages per batch")
    now = utcnow()
    now_us, now_s = to_us(now), now.timestamp()
    # the usual batch, numbers within bounds, is checked column by column; anything else (and
    # every refusal, with all its reasons) goes through the per-reading path below
    known = await _known_devices(ctx, caller.org_id, items)
    fast = decode_batch_columns(items, known, now_us) if known is not None else None
    if fast is not None:
        fresh = await ctx.ingestor.write(fast)
        stored = sum(fresh)
        return IngestOut(stored=stored, duplicates=len(fresh) - stored)
    messages: list[Message] = []
    errors: list[dict[str, Any]] = []
    refused = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("device_id"), str):
            refused += 1
            errors.append({"index": i, "device_id": None, "reasons": ["a message needs a device_id"]})
            continue
        device_id = item["device_id"]
        identity = await ctx.registry.identity(device_id)
        if identity is None or identity.org_id != caller.org_id:
            refused += 1
            errors.append({"index": i, "device_id": device_id, "reasons": ["unknown device"]})
            continue
        if "senml" in item:
            decoded = decode_senml(item["senml"], identity.properties, item.get("msg_id"), now_s)
        else:
            decoded = decode_values(
                item.get("values"), identity.properties, item.get("ts"), item.get("msg_id"), now_us
            )
        if decoded.reasons:
            refused += 1
            errors.append({"index": i, "device_id": device_id, "reasons": decoded.reasons})
            continue
        messages.append(_message(identity, decoded))
    if refused:
        raise _refuse(errors, refused)
    fresh = await ctx.ingestor.write(messages)
    stored = sum(fresh)
    return IngestOut(stored=stored, duplicates=len(fresh) - stored)


Keys = Annotated[str | None, Query(max_length=2000, description="comma-separated property keys")]
Devices = Annotated[str | None, Query(max_length=20000, description="comma-separated device ids")]
Start = Annotated[datetime | None, Query(description="inclusive start, ISO 8601")]
End = Annotated[datetime | None, Query(description="exclusive end, ISO 8601")]


def _selection(
    org_id: str, devices: str | None, keys: str | None, start: datetime | None, end: datetime | None
) -> Selection:
    for t in (start, end):
        if t is not None and t.tzinfo is None:
            raise InvalidInput("start and end need a UTC offset (add Z or +hh:mm)")
    return Selection(org_id, _csv(devices), _csv(keys), start, end)


@router.get("/devices/{device_id}/telemetry", response_model=list[ReadingOut])
async def device_readings(
    ctx: ContextDep,
    caller: Reader,
    device_id: ObjectId,
    keys: Keys = None,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    order: Literal["asc", "desc"] = "asc",
) -> list[ReadingOut]:
    """Raw readings of one device in a time range."""
    await ctx.registry.get_device(caller, device_id)
    rows = await ctx.telemetry.readings(
        _selection(caller.org_id, device_id, keys, start, end), limit=limit, newest_first=order == "desc"
    )
    return [ReadingOut(device_id=r.device_id, key=r.key, ts=r.ts, value=r.value) for r in rows]


@router.get("/telemetry/latest", response_model=list[ReadingOut])
async def latest(
    ctx: ContextDep, caller: Reader, devices: Devices = None, keys: Keys = None
) -> list[ReadingOut]:
    """Newest reading of each property of the selected devices (all of the organisation's by default)."""
    rows = await ctx.telemetry.latest(_selection(caller.org_id, devices, keys, None, None))
    return [ReadingOut(device_id=r.device_id, key=r.key, ts=r.ts, value=r.value) for r in rows]


@router.get("/telemetry/aggregate", response_model=list[BucketOut])
async def aggregate(
    ctx: ContextDep,
    caller: Reader,
    devices: Devices = None,
    keys: Keys = None,
    start: Start = None,
    end: End = None,
    bucket: Annotated[float, Query(ge=1, le=366 * 86400, description="bucket width in seconds")] = 3600,
    aggregates: Annotated[str, Query(max_length=100, description="count,min,max,avg,sum,first,last")] = "avg",
    group: Annotated[bool, Query(description="one series over all selected devices")] = False,
) -> list[BucketOut]:
    """Aggregates per time bucket for downsampling, per device or over a group of devices."""
    rows = await ctx.telemetry.aggregate(
        _selection(caller.org_id, devices, keys, start, end),
        bucket_seconds=bucket,
        aggregates=_csv(aggregates) or [],
        group=group,
    )
    return [BucketOut(bucket=r.bucket, device_id=r.device_id, key=r.key, values=r.values) for r in rows]


@router.get(
    "/telemetry/export", responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}}
)
async def export(
    ctx: ContextDep,
    caller: Reader,
    format: Literal["csv", "parquet"] = "csv",
    devices: Devices = None,
    keys: Keys = None,
    start: Start = None,
    end: End = None,
) -> Response:
    """Readings as CSV or Parquet."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = await ctx.telemetry.export(_selection(caller.org_id, devices, keys, start, end))
    sink = io.BytesIO()
    if format == "csv":
        pacsv.write_csv(table, sink)
        media = "text/csv"
    else:
        pq.write_table(table, sink)
        media = "application/vnd.apache.parquet"
    name = f"telemetry-{utcnow():%Y%m%dT%H%M%SZ}.{format}"
    return Response(
        sink.getvalue(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/dead-letters", response_model=list[DeadLetterOut])
async def dead_letters(
    ctx: ContextDep,
    caller: Reader,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    """Messages that could not be stored, newest first, with every reason."""
    rows = await ctx.dead_letters.list(caller, device_id=device_id, offset=offset, limit=limit)
    return [DeadLetterOut.model_validate(d) for d in rows]
