"""Device types, devices, twins and commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from iplus.access.registry import DeviceSpec, parse_device_csv
from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.api.schemas import (
    CommandIn,
    CommandOut,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    DevicesIn,
    DeviceTypeIn,
    DeviceTypeOut,
)
from iplus.core.errors import InvalidInput
from iplus.standards.wot import parse_thing_model, thing_description

router = APIRouter(tags=["devices"])


def _spec(d: DeviceIn) -> DeviceSpec:
    return DeviceSpec(d.type, d.name, d.id, tuple(d.tags), d.latitude, d.longitude)


@router.post("/device-types", response_model=DeviceTypeOut, status_code=status.HTTP_201_CREATED)
async def create_type(ctx: ContextDep, caller: Writer, body: DeviceTypeIn) -> DeviceTypeOut:
    """Register a device type from a W3C WoT Thing Model (TM 1.1 JSON Schema validated)."""
    kind = await ctx.registry.create_type(caller, body.name, body.thing_model, body.retention_days)
    return DeviceTypeOut.model_validate(kind)


@router.get("/device-types", response_model=list[DeviceTypeOut])
async def list_types(ctx: ContextDep, caller: Reader) -> list[DeviceTypeOut]:
    """The organisation's device types."""
    return [DeviceTypeOut.model_validate(t) for t in await ctx.registry.list_types(caller)]


@router.get("/device-types/{type_id}", response_model=DeviceTypeOut)
async def get_type(ctx: ContextDep, caller: Reader, type_id: ObjectId) -> DeviceTypeOut:
    """One device type."""
    return DeviceTypeOut.model_validate(await ctx.registry.get_type(caller, type_id))


@router.post("/devices", response_model=DeviceCreated, status_code=status.HTTP_201_CREATED)
async def create_device(ctx: ContextDep, caller: Writer, body: DeviceIn) -> DeviceCreated:
    """Create a device; its token is in this response only."""
    [(device, token)] = await ctx.registry.create_devices(caller, [_spec(body)])
    return DeviceCreated(**DeviceOut.model_validate(device).model_dump(), token=token)


@router.post(
    "/devices/bulk",
    response_model=list[DeviceCreated],
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DevicesIn.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def create_devices(ctx: ContextDep, caller: Writer, request: Request) -> Any:
    """Create up to 10,000 devices at once from JSON or CSV (all or none); tokens shown once.

    CSV columns: ``type,name,id,tags,latitude,longitude`` (tags separated by ``;``). With
    ``Accept: text/csv`` the answer is CSV ``device_id,token,type`` for the simulator and gateways.
    """
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("text/csv"):
        specs = parse_device_csv(raw.decode("utf-8-sig", errors="replace"))
    else:
        try:
            specs = [_spec(d) for d in DevicesIn.model_validate_json(raw).devices]
        except ValueError as exc:
            raise InvalidInput(
                f"request body is not a valid device list: {str(exc).splitlines()[0]}"
            ) from exc
    made = await ctx.registry.create_devices(caller, specs)
    if "text/csv" in request.headers.get("accept", ""):
        lines = ["device_id,token,type"] + [f"{d.id},{t},{d.type_id}" for d, t in made]
        return Response(
            "\n".join(lines) + "\n",
            status_code=201,
            media_type="text/csv",
            headers={"Cache-Control": "no-store"},
        )
    return [DeviceCreated(**DeviceOut.model_validate(d).model_dump(), token=t) for d, t in made]


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(
    ctx: ContextDep,
    caller: Reader,
    type_id: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100, description="text in the id or name")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeviceOut]:
    """The organisation's devices, filtered by type, tag or text."""
    rows = await ctx.registry.list_devices(
        caller, type_id=type_id, tag=tag, text=q, offset=offset, limit=limit
    )
    return [DeviceOut.model_validate(d) for d in rows]


@router.get("/devices/{device_id}", response_model=DeviceOut)
async def get_device(ctx: ContextDep, caller: Reader, device_id: ObjectId) -> DeviceOut:
    """One device; another tenant's answers 404."""
    return DeviceOut.model_validate(await ctx.registry.get_device(caller, device_id))


@router.post("/devices/{device_id}/token", response_model=DeviceCreated)
async def rotate_token(ctx: ContextDep, caller: Writer, device_id: ObjectId) -> DeviceCreated:
    """Give the device a new token (shown once); the old one stops working (other processes: within 30 s)."""
    token = await ctx.registry.rotate_token(caller, device_id)
    device = await ctx.registry.get_device(caller, device_id)
    return DeviceCreated(**DeviceOut.model_validate(device).model_dump(), token=token)


@router.get("/devices/{device_id}/td")
async def get_td(ctx: ContextDep, caller: Reader, device_id: ObjectId, request: Request) -> dict[str, Any]:
    """The device's W3C WoT Thing Description (TD 1.1)."""
    device = await ctx.registry.get_device(caller, device_id)
    kind = await ctx.registry.get_type(caller, device.type_id)
    base = str(request.base_url).rstrip("/") + f"/api/v1/devices/{device.id}"
    return thing_description(
        parse_thing_model(kind.thing_model),
        thing_id=f"urn:iplus:device:{device.id}",
        title=device.name,
        base=base,
    )


@router.get("/devices/{device_id}/state")
async def get_state(ctx: ContextDep, caller: Reader, device_id: ObjectId) -> dict[str, Any]:
    """The twin: reported values with times, desired values, and the delta between them."""
    return await ctx.twins.state(caller, device_id)


@router.put("/devices/{device_id}/state/desired")
async def set_desired(
    ctx: ContextDep, caller: Writer, device_id: ObjectId, body: dict[str, Any]
) -> dict[str, Any]:
    """Set desired values (``null`` removes one); the device is told on MQTT (retained)."""
    return await ctx.twins.set_desired(caller, device_id, body)


@router.post("/devices/{device_id}/commands", response_model=CommandOut, status_code=status.HTTP_201_CREATED)
async def send_command(ctx: ContextDep, caller: Writer, device_id: ObjectId, body: CommandIn) -> CommandOut:
    """Invoke an action; it goes to MQTT ``iplus/v1/devices/{id}/commands``."""
    command = await ctx.commands.send(caller, device_id, body.action, body.input, body.timeout_s)
    return CommandOut.model_validate(command)


@router.get("/devices/{device_id}/commands", response_model=list[CommandOut])
async def list_commands(ctx: ContextDep, caller: Reader, device_id: ObjectId) -> list[CommandOut]:
    """The device's newest commands."""
    return [CommandOut.model_validate(c) for c in await ctx.commands.of_device(caller, device_id)]


@router.get("/commands/{command_id}", response_model=CommandOut)
async def get_command(ctx: ContextDep, caller: Reader, command_id: ObjectId) -> CommandOut:
    """One command and its status."""
    return CommandOut.model_validate(await ctx.commands.get(caller, command_id))
