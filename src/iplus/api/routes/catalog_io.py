"""Request and response bodies of the catalog API, and how stored rows become them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from iplus.core.errors import InvalidInput
from iplus.infra.db.models_catalog import OfferEvent, OfferVersion, ServiceOrder
from iplus.platform.catalog.matching import Match, Requirement
from iplus.platform.catalog.offers import OfferView
from iplus.platform.catalog.orders import window_of
from iplus.platform.catalog.spec import TIME_UNITS, OfferSpec, parse_calendar


class OfferIn(BaseModel):
    """A version of an offer: functional description, declared QoS, calendar, SLA, grounding things."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    capability_type: str = Field(
        min_length=1, max_length=200, description="a capability type of the taxonomy"
    )
    inputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    outputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    qos: dict[str, Any] = Field(
        description='{"price": {"value": 120, "unit": "EUR"}, "time": {"value": 4, "unit": "h"}, '
        '"reliability": {"value": 0.98, "unit": "1"}, "availability": {...}, "capacity": {...}}'
    )
    calendar: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    sla: dict[str, Any] = Field(default_factory=dict)
    things: list[str] = Field(default_factory=list, max_length=50)
    latitude: float | None = None
    longitude: float | None = None

    def spec(self) -> OfferSpec:
        """The platform's view of the request."""
        calendar, problems = parse_calendar(self.calendar)
        if problems:
            raise InvalidInput("the offer is not valid", errors=problems)
        return OfferSpec(
            title=self.title,
            description=self.description,
            capability_type=self.capability_type,
            inputs=self.inputs,
            outputs=self.outputs,
            qos=self.qos,
            calendar=calendar,
            sla=self.sla,
            things=tuple(self.things),
            latitude=self.latitude,
            longitude=self.longitude,
        )


class VersionOut(BaseModel):
    """One version of an offer."""

    version: int
    frozen: bool
    title: str
    description: str
    capability_type: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    qos: dict[str, Any]
    calendar: list[dict[str, Any]]
    sla: dict[str, Any]
    things: list[str]
    devices: list[str]
    latitude: float | None
    longitude: float | None
    created_at: datetime


class OfferOut(BaseModel):
    """An offer with the version the caller sees."""

    id: str
    org_id: str
    stage: str
    latest_version: int
    published_version: int | None
    suspended_by: str | None
    created_at: datetime
    updated_at: datetime
    current: VersionOut


class OfferPage(BaseModel):
    """A page of offers and how many match in all."""

    items: list[OfferOut]
    total: int
    offset: int
    limit: int


class StageIn(BaseModel):
    """Move an offer to a stage; operators suspend with a reason."""

    stage: Literal["draft", "published", "suspended", "retired"]
    reason: str = Field(default="", max_length=2000)


class EventOut(BaseModel):
    """One change in an offer's history."""

    version: int
    action: str
    from_stage: str | None
    to_stage: str | None
    actor_org_id: str
    actor_user_id: str | None
    reason: str
    at: datetime


class RequirementIn(BaseModel):
    """A required capability with constraints and weights."""

    type: str = Field(min_length=1, max_length=200)
    parameters: dict[str, str | None] = Field(
        default_factory=dict, description="inputs the offer must accept, with their unit (null: any)"
    )
    max_price: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    max_time: float | None = Field(default=None, gt=0)
    time_unit: Literal["s", "min", "h", "d"] = "h"
    min_reliability: float | None = Field(default=None, ge=0, le=1)
    min_availability: float | None = Field(default=None, ge=0, le=1)
    min_capacity: float | None = Field(default=None, gt=0)
    deadline: datetime | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0)
    window_start: datetime | None = None
    window_end: datetime | None = None
    weights: dict[str, float] = Field(default_factory=dict)

    def requirement(self) -> Requirement:
        """The platform's view of the request."""
        if (self.latitude is None) != (self.longitude is None):
            raise InvalidInput("latitude and longitude: give both or neither")
        if (self.window_start is None) != (self.window_end is None):
            raise InvalidInput("window_start and window_end: give both or neither")
        if self.deadline is not None and self.deadline.tzinfo is None:
            raise InvalidInput("deadline: needs a UTC offset")
        window = (
            window_of(self.window_start, self.window_end) if self.window_start and self.window_end else None
        )
        near = (
            (self.latitude, self.longitude)
            if self.latitude is not None and self.longitude is not None
            else None
        )
        return Requirement(
            type=self.type,
            parameters=self.parameters,
            max_price=self.max_price,
            currency=self.currency,
            max_time_h=None if self.max_time is None else self.max_time * TIME_UNITS[self.time_unit],
            min_reliability=self.min_reliability,
            min_availability=self.min_availability,
            min_capacity=self.min_capacity,
            deadline=self.deadline,
            near=near,
            radius_km=self.radius_km,
            window=window,
            weights=self.weights,
        )


class CandidateOut(BaseModel):
    """A ranked candidate with its score and the reasons it matched."""

    rank: int
    offer_id: str
    version: int
    provider_org_id: str
    title: str
    capability_type: str
    score: float
    reasons: dict[str, Any]


class RejectedOut(BaseModel):
    """An offer of the required type that did not pass, with the first reason."""

    offer_id: str
    version: int
    reason: str


class MatchOut(BaseModel):
    """Ranked candidates, best first, and the offers of the type that were filtered out."""

    candidates: list[CandidateOut]
    rejected: list[RejectedOut]


class OrderIn(BaseModel):
    """Order the published version of an offer for a window."""

    offer_id: str = Field(min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)
    window_start: datetime
    window_end: datetime


class OrderMoveIn(BaseModel):
    """The provider accepts, rejects, starts, completes or fails an order; the user cancels it."""

    status: Literal["accepted", "rejected", "in_progress", "completed", "cancelled", "failed"]
    reason: str = Field(default="", max_length=2000)


class OrderOut(BaseModel):
    """An order, its timestamped history and what its grounding twins reported."""

    id: str
    org_id: str
    provider_org_id: str
    offer_id: str
    offer_version: int
    status: str
    parameters: dict[str, Any]
    window_start: datetime
    window_end: datetime
    devices: list[str]
    progress: float | None
    twin_state: str | None
    reason: str
    history: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    live: dict[str, dict[str, Any]] | None = None


class OrderPage(BaseModel):
    """A page of orders and how many there are in all."""

    items: list[OrderOut]
    total: int
    offset: int
    limit: int


def version_out(v: OfferVersion) -> VersionOut:
    """A stored version as answered."""
    return VersionOut(
        version=v.version,
        frozen=v.frozen,
        title=v.title,
        description=v.description,
        capability_type=v.capability_type,
        inputs=v.inputs,
        outputs=v.outputs,
        qos=v.qos,
        calendar=v.calendar,
        sla=v.sla,
        things=v.things,
        devices=v.devices,
        latitude=v.latitude,
        longitude=v.longitude,
        created_at=v.created_at,
    )


def offer_out(view: OfferView) -> OfferOut:
    """An offer as answered."""
    o = view.offer
    return OfferOut(
        id=o.id,
        org_id=o.org_id,
        stage=o.stage,
        latest_version=o.latest_version,
        published_version=o.published_version,
        suspended_by=o.suspended_by,
        created_at=o.created_at,
        updated_at=o.updated_at,
        current=version_out(view.version),
    )


def order_out(o: ServiceOrder, live: dict[str, dict[str, Any]] | None = None) -> OrderOut:
    """An order as answered."""
    return OrderOut(
        id=o.id,
        org_id=o.org_id,
        provider_org_id=o.provider_org_id,
        offer_id=o.offer_id,
        offer_version=o.offer_version,
        status=o.status,
        parameters=o.parameters,
        window_start=o.window_start,
        window_end=o.window_end,
        devices=o.devices,
        progress=o.progress,
        twin_state=o.twin_state,
        reason=o.reason,
        history=o.history,
        created_at=o.created_at,
        updated_at=o.updated_at,
        live=live,
    )


def event_out(e: OfferEvent) -> EventOut:
    return EventOut(
        version=e.version,
        action=e.action,
        from_stage=e.from_stage,
        to_stage=e.to_stage,
        actor_org_id=e.actor_org_id,
        actor_user_id=e.actor_user_id,
        reason=e.reason,
        at=e.at,
    )


def candidate_out(rank: int, m: Match) -> CandidateOut:
    """A match as answered."""
    c = m.candidate
    return CandidateOut(
        rank=rank,
        offer_id=c.offer_id,
        version=c.version,
        provider_org_id=c.org_id,
        title=c.title,
        capability_type=c.capability_type,
        score=m.score,
        reasons=m.reasons,
    )
