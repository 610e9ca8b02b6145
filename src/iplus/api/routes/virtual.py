"""Virtual resources, capabilities and products; their TDs and live state; the taxonomy; the pools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.api.schemas import CommandOut
from iplus.core.errors import InvalidInput
from iplus.infra.db.models_virtual import VirtualThing
from iplus.virtual.pools import PoolPage
from iplus.virtual.query import query_from_params
from iplus.virtual.spec import ThingSpec, spec_from_dict
from iplus.virtual.things import ThingDetail

router = APIRouter(tags=["virtual"])
POOLS = {"resources": "resource", "capabilities": "capability", "products": "product"}


class Location(BaseModel):
    """A WGS 84 position."""

    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class LinkIn(BaseModel):
    """A grounding device and {virtual property: twin property}."""

    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=64)
    mapping: dict[str, str] = Field(default_factory=dict)


class WindowIn(BaseModel):
    """A time window of availability (ISO 8601 with offset)."""

    model_config = ConfigDict(extra="forbid")
    starts_at: datetime
    ends_at: datetime


class ThingIn(BaseModel):
    """A virtual thing to create or replace; ``from_device`` derives its TD from the device's type."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["resource", "capability", "product"]
    type: str = Field(min_length=1, max_length=300)
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    visibility: Literal["private", "public"] = "private"
    attributes: dict[str, bool | int | float | str] = Field(default_factory=dict)
    location: Location | None = None
    properties: dict[str, dict[str, Any]] = Field(default_factory=dict)
    actions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    events: dict[str, dict[str, Any]] = Field(default_factory=dict)
    links: list[LinkIn] = Field(default_factory=list, max_length=100)
    calendar: list[WindowIn] = Field(default_factory=list, max_length=1000)
    from_device: str | None = Field(default=None, max_length=64)


class ActionIn(BaseModel):
    """The input of a virtual thing's action."""

    model_config = ConfigDict(extra="forbid")
    input: Any = None
    timeout_s: float = Field(default=30.0, ge=1, le=86_400)


class ThingOut(BaseModel):
    """A virtual thing as stored."""

    id: str
    org_id: str
    kind: str
    type: str
    domain: str
    title: str
    description: str
    visibility: str
    attributes: dict[str, Any]
    location: Location | None
    properties: dict[str, Any]
    actions: dict[str, Any]
    events: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = None


class ThingDetailOut(ThingOut):
    """A virtual thing with its links and calendar."""

    links: list[LinkIn]
    calendar: list[WindowIn]


class PoolOut(BaseModel):
    """A page of pool hits with the total and facets."""

    items: list[ThingOut]
    total: int
    offset: int
    limit: int
    facets: dict[str, dict[str, int]]


def thing_out(t: VirtualThing, distance_km: float | None = None) -> ThingOut:
    """The API view of a stored thing."""
    located = t.latitude is not None and t.longitude is not None
    return ThingOut(
        id=t.id,
        org_id=t.org_id,
        kind=t.kind,
        type=t.type,
        domain=t.domain,
        title=t.title,
        description=t.description,
        visibility=t.visibility,
        attributes=t.attributes,
        location=Location(lat=t.latitude, lon=t.longitude) if located else None,
        properties=t.affordances.get("properties") or {},
        actions=t.affordances.get("actions") or {},
        events=t.affordances.get("events") or {},
        created_at=t.created_at,
        updated_at=t.updated_at,
        distance_km=None if distance_km is None else round(distance_km, 6),
    )


def detail_out(d: ThingDetail, viewer_org_id: str) -> ThingDetailOut:
    """The API view of a thing with calendar, and links for its owner only."""
    own = d.thing.org_id == viewer_org_id
    return ThingDetailOut(
        **thing_out(d.thing).model_dump(),
        links=[LinkIn(device_id=link.device_id, mapping=link.mapping) for link in d.links] if own else [],
        calendar=[WindowIn(starts_at=w.starts_at, ends_at=w.ends_at) for w in d.windows],
    )


def pool_out(page: PoolPage) -> PoolOut:
    """The API view of a pool page."""
    return PoolOut(
        items=[thing_out(i.thing, i.distance_km) for i in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        facets=page.facets,
    )


async def _spec(ctx: Any, caller: Any, body: ThingIn) -> ThingSpec:
    data = body.model_dump(exclude={"from_device"}, exclude_none=True)
    spec = spec_from_dict(data)
    if body.from_device:
        spec = await ctx.virtual.ground_on_device(caller, spec, body.from_device)
    return spec


def api_base(request: Request) -> str:
    """The API root as the caller reached it."""
    return str(request.base_url).rstrip("/") + "/api/v1"


@router.post("/virtual-things", response_model=ThingDetailOut, status_code=status.HTTP_201_CREATED)
async def create_thing(ctx: ContextDep, caller: Writer, body: ThingIn) -> ThingDetailOut:
    """Create a virtual resource, capability or product (its TD is validated against TD 1.1)."""
    thing = await ctx.virtual.create(caller, await _spec(ctx, caller, body))
    return detail_out(await ctx.virtual.detail(caller, thing.id), caller.org_id)


@router.get("/virtual-things", response_model=list[ThingOut])
async def list_things(
    ctx: ContextDep,
    caller: Reader,
    kind: Annotated[Literal["resource", "capability", "product"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ThingOut]:
    """The organisation's own virtual things, newest first."""
    rows = await ctx.virtual.list_own(caller, kind=kind, offset=offset, limit=limit)
    return [thing_out(t) for t in rows]


@router.get("/virtual-things/{thing_id}", response_model=ThingDetailOut)
async def get_thing(ctx: ContextDep, caller: Reader, thing_id: ObjectId) -> ThingDetailOut:
    """One virtual thing (own, or another organisation's public one)."""
    return detail_out(await ctx.virtual.detail(caller, thing_id), caller.org_id)


@router.put("/virtual-things/{thing_id}", response_model=ThingDetailOut)
async def replace_thing(ctx: ContextDep, caller: Writer, thing_id: ObjectId, body: ThingIn) -> ThingDetailOut:
    """Replace an own virtual thing."""
    await ctx.virtual.update(caller, thing_id, await _spec(ctx, caller, body))
    return detail_out(await ctx.virtual.detail(caller, thing_id), caller.org_id)


@router.delete("/virtual-things/{thing_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_thing(ctx: ContextDep, caller: Writer, thing_id: ObjectId) -> Response:
    """Delete an own virtual thing."""
    await ctx.virtual.delete(caller, thing_id)
    return Response(status_code=204)


@router.get("/virtual-things/{thing_id}/td")
async def get_td(ctx: ContextDep, caller: Reader, thing_id: ObjectId, request: Request) -> Response:
    """The thing's W3C WoT Thing Description (TD 1.1)."""
    import orjson

    doc = await ctx.virtual.td(caller, thing_id, api_base(request))
    return Response(orjson.dumps(doc), media_type="application/td+json")


@router.get("/virtual-things/{thing_id}/state")
async def get_state(ctx: ContextDep, caller: Reader, thing_id: ObjectId) -> dict[str, Any]:
    """Live values of the thing's properties, from the twins of the devices that ground it."""
    return await ctx.virtual.state(caller, thing_id)


@router.post(
    "/virtual-things/{thing_id}/actions/{action}",
    response_model=CommandOut,
    status_code=status.HTTP_201_CREATED,
)
async def invoke_action(
    ctx: ContextDep,
    caller: Writer,
    thing_id: ObjectId,
    action: Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")],
    body: ActionIn,
) -> CommandOut:
    """Invoke an own thing's action on the grounding device that performs it (a device command);
    an action no device performs answers 409: it is carried out by ordering the service."""
    device_id = await ctx.virtual.action_device(caller, thing_id, action)
    command = await ctx.commands.send(caller, device_id, action, body.input, body.timeout_s)
    return CommandOut.model_validate(command)


@router.get("/taxonomy")
async def get_taxonomy(
    ctx: ContextDep,
    caller: Reader,
    root: Annotated[str | None, Query(max_length=300, description="a type id or path")] = None,
) -> list[dict[str, Any]]:
    """The type taxonomy of virtual things (kind > domain > type > sub-type)."""
    return ctx.virtual.taxonomy.as_tree(root)


@router.get("/pools/{pool}", response_model=PoolOut)
async def search_pool(
    ctx: ContextDep,
    caller: Reader,
    pool: Literal["resources", "capabilities", "products"],
    request: Request,
    q: Annotated[str | None, Query(max_length=200, description="words in title, description, type")] = None,
    type: Annotated[str | None, Query(max_length=300, description="a taxonomy type; sub-types match")] = None,
    near: Annotated[str | None, Query(max_length=60, description="lat,lon")] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=20_000)] = None,
    available_from: Annotated[datetime | None, Query()] = None,
    available_to: Annotated[datetime | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> PoolOut:
    """Search a pool (own + public things): text, type subtree, ``attr.<key>=value`` or ``lo..hi``,
    radius around ``near``, availability window; with facets per type, domain and kind."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "kind"]
    if any(k == "kind" for k, _ in request.query_params.multi_items()):
        raise InvalidInput("the pool names the kind: leave out 'kind'")
    query = query_from_params(POOLS[pool], params)
    return pool_out(await ctx.virtual.search(caller, query))
