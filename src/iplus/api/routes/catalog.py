"""Service catalog: offers and their versions and stages, matching, and orders of one service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.api.routes.catalog_io import (
    EventOut,
    MatchOut,
    OfferIn,
    OfferOut,
    OfferPage,
    OrderIn,
    OrderMoveIn,
    OrderOut,
    OrderPage,
    RejectedOut,
    RequirementIn,
    StageIn,
    VersionOut,
    candidate_out,
    event_out,
    offer_out,
    order_out,
    version_out,
)
from iplus.core.errors import Forbidden
from iplus.core.roles import Role
from iplus.platform.catalog.deliverables import deliverable_dict
from iplus.platform.catalog.finder import OfferQuery, match_offers
from iplus.platform.catalog.orders import window_of
from iplus.platform.catalog.spec import Window

router = APIRouter(tags=["catalog"])


# offers ---------------------------------------------------------------------------------
@router.post("/offers", response_model=OfferOut, status_code=status.HTTP_201_CREATED)
async def create_offer(ctx: ContextDep, caller: Writer, body: OfferIn) -> OfferOut:
    """A new offer in draft (version 1); only service providers offer."""
    return offer_out(await ctx.offers.create(caller, body.spec()))


@router.get("/offers", response_model=OfferPage)
async def find_offers(
    ctx: ContextDep,
    caller: Reader,
    q: Annotated[str | None, Query(max_length=200, description="words in the title or description")] = None,
    type: Annotated[str | None, Query(max_length=200, description="a type; its sub-types match too")] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    max_time_h: Annotated[float | None, Query(gt=0)] = None,
    min_reliability: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_availability: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_capacity: Annotated[float | None, Query(gt=0)] = None,
    mine: Annotated[bool, Query(description="your own offers, any stage, newest version")] = False,
    stage: Annotated[Literal["draft", "published", "suspended", "retired"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> OfferPage:
    """Published offers (or your own) by text, type with sub-types and QoS bounds; cheapest first."""
    query = OfferQuery(
        text=q,
        type=type,
        max_price=max_price,
        currency=currency,
        max_time_h=max_time_h,
        min_reliability=min_reliability,
        min_availability=min_availability,
        min_capacity=min_capacity,
        mine=mine,
        stage=stage,
        offset=offset,
        limit=limit,
    )
    views, total = await ctx.offers.search(caller, query)
    return OfferPage(items=[offer_out(v) for v in views], total=total, offset=offset, limit=limit)


@router.get("/offers/{offer_id}", response_model=OfferOut)
async def get_offer(ctx: ContextDep, caller: Reader, offer_id: ObjectId) -> OfferOut:
    """An offer: the owner sees its newest version, others the published one."""
    return offer_out(await ctx.offers.get(caller, offer_id))


@router.put("/offers/{offer_id}", response_model=OfferOut)
async def revise_offer(ctx: ContextDep, caller: Writer, offer_id: ObjectId, body: OfferIn) -> OfferOut:
    """Change the draft version, or start a new draft version when the newest one is published."""
    return offer_out(await ctx.offers.revise(caller, offer_id, body.spec()))


@router.post("/offers/{offer_id}/versions", response_model=OfferOut, status_code=status.HTTP_201_CREATED)
async def new_version(ctx: ContextDep, caller: Writer, offer_id: ObjectId, body: OfferIn) -> OfferOut:
    """Same as PUT: published versions never change, so a change makes a new version."""
    return offer_out(await ctx.offers.revise(caller, offer_id, body.spec()))


@router.get("/offers/{offer_id}/versions", response_model=list[VersionOut])
async def offer_versions(ctx: ContextDep, caller: Reader, offer_id: ObjectId) -> list[VersionOut]:
    """Versions, oldest first: the owner sees all, others the published ones."""
    return [version_out(v) for v in await ctx.offers.versions(caller, offer_id)]


@router.get("/offers/{offer_id}/versions/{number}", response_model=VersionOut)
async def offer_version(
    ctx: ContextDep, caller: Reader, offer_id: ObjectId, number: Annotated[int, Path(ge=1, le=1_000_000)]
) -> VersionOut:
    """One version."""
    return version_out(await ctx.offers.version(caller, offer_id, number))


@router.post("/offers/{offer_id}/stage", response_model=OfferOut)
async def move_offer(ctx: ContextDep, caller: Writer, offer_id: ObjectId, body: StageIn) -> OfferOut:
    """draft -> published -> suspended -> retired; other moves answer 409. Operators suspend any offer."""
    return offer_out(await ctx.offers.move(caller, offer_id, body.stage, body.reason))


@router.get("/offers/{offer_id}/history", response_model=list[EventOut])
async def offer_history(ctx: ContextDep, caller: Reader, offer_id: ObjectId) -> list[EventOut]:
    """Every change with who made it and why (provider and operators)."""
    return [event_out(e) for e in await ctx.offers.history(caller, offer_id)]


# matching -------------------------------------------------------------------------------
@router.post("/match", response_model=MatchOut)
async def match(ctx: ContextDep, caller: Reader, body: RequirementIn) -> MatchOut:
    """Ranked candidates: type subsumption and parameters, then QoS filters, then SAW with your weights."""
    matches, rejected = await match_offers(
        ctx.offers, caller, body.requirement(), ctx.systems.reputations.for_options
    )
    return MatchOut(
        candidates=[candidate_out(i + 1, m) for i, m in enumerate(matches)],
        rejected=[
            RejectedOut(offer_id=r.candidate.offer_id, version=r.candidate.version, reason=r.reason)
            for r in rejected
        ],
    )


# orders ---------------------------------------------------------------------------------
@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
async def place_order(ctx: ContextDep, caller: Writer, body: OrderIn) -> OrderOut:
    """Order a published offer; the parameters are checked against its input schema."""
    window: Window = window_of(body.window_start, body.window_end)
    return order_out(await ctx.orders.place(caller, body.offer_id, body.parameters, window))


@router.get("/orders", response_model=OrderPage)
async def list_orders(
    ctx: ContextDep,
    caller: Reader,
    role: Annotated[
        Literal["user", "provider"] | None, Query(description="placed by you or received")
    ] = None,
    status_: Annotated[
        Literal["requested", "accepted", "rejected", "in_progress", "completed", "cancelled", "failed"]
        | None,
        Query(alias="status"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OrderPage:
    """Orders you placed or received, newest first."""
    orders, total = await ctx.orders.list(caller, role=role, status=status_, offset=offset, limit=limit)
    return OrderPage(items=[order_out(o) for o in orders], total=total, offset=offset, limit=limit)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(ctx: ContextDep, caller: Reader, order_id: ObjectId) -> OrderOut:
    """An order with its grounding devices' newest reported values."""
    live = await ctx.orders.live(caller, order_id)
    return order_out(live["order"], live["devices"])


@router.post("/orders/{order_id}/status", response_model=OrderOut)
async def move_order(ctx: ContextDep, caller: Writer, order_id: ObjectId, body: OrderMoveIn) -> OrderOut:
    """requested -> accepted | rejected -> in_progress -> completed (or cancelled / failed); else 409."""
    return order_out(await ctx.orders.move(caller, order_id, body.status, body.reason))


class DeliverableIn(BaseModel):
    """A provider's deliverable: the document, and whether to complete the order with it."""

    content: dict[str, Any] = Field(description="the JSON document; its `title` names it")
    complete: bool = Field(False, description="complete the order in the same step")
    reason: str = Field("", max_length=2000)


class DeliverableOut(BaseModel):
    """An order's deliverable."""

    order_id: str
    title: str
    size: int = Field(description="bytes of the JSON document")
    created_at: str
    content: dict[str, Any]


@router.get("/orders/{order_id}/deliverable", response_model=DeliverableOut)
async def get_deliverable(ctx: ContextDep, caller: Reader, order_id: ObjectId) -> DeliverableOut:
    """What the provider delivered with the order (ordering and providing organisation only); 404 if none."""
    return DeliverableOut(**deliverable_dict(await ctx.orders.deliverables.get(caller, order_id)))


@router.put("/orders/{order_id}/deliverable", response_model=DeliverableOut)
async def put_deliverable(
    ctx: ContextDep, caller: Writer, order_id: ObjectId, body: DeliverableIn
) -> DeliverableOut:
    """The provider attaches the deliverable of an order in progress (and may complete it at once)."""
    found = await ctx.orders.deliverables.attach(
        caller, order_id, body.content, complete=body.complete, reason=body.reason
    )
    return DeliverableOut(**deliverable_dict(found))


@router.get("/catalog/statistics")
async def statistics(ctx: ContextDep, caller: Reader) -> dict[str, Any]:
    """Offers by stage, published offers by type and orders by status (operators only)."""
    if Role.OPERATOR not in caller.roles:
        raise Forbidden("pool statistics are for platform operators")
    return {**await ctx.offers.statistics(), "orders_by_status": await ctx.orders.statistics()}
