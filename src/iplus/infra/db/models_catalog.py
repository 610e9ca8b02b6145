"""Tables of the service catalog: offers, their immutable versions, their history, and orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


class Offer(Base):
    """A provider's service offer: its life-cycle stage and which version is the published one."""

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_stage_published", "stage", "published_version"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20), default="draft")
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer, default=None)
    # who suspended it: "provider" or "operator" (only an operator lifts an operator's suspension)
    suspended_by: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfferVersion(Base):
    """One version of an offer, whole; frozen once published. QoS is copied into columns for search."""

    __tablename__ = "offer_versions"
    __table_args__ = (
        UniqueConstraint("offer_id", "version", name="uq_offer_versions_offer_version"),
        Index("ix_offer_versions_type_price", "capability_type", "price"),
        Index("ix_offer_versions_listed_type", "listed", "capability_type", "price"),
    )

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    frozen: Mapped[bool] = mapped_column(default=False)
    # true only for the published version of a published offer: the pools search one table, no join
    listed: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    capability_type: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    qos: Mapped[dict[str, Any]] = mapped_column(JSON)
    calendar: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sla: Mapped[dict[str, Any]] = mapped_column(JSON)
    things: Mapped[list[str]] = mapped_column(JSON)
    devices: Mapped[list[str]] = mapped_column(JSON)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    # lower-case title, description and type, so one LIKE searches text on every store
    search_text: Mapped[str] = mapped_column(Text)
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    time_h: Mapped[float] = mapped_column(Float)
    reliability: Mapped[float] = mapped_column(Float)
    availability: Mapped[float] = mapped_column(Float)
    capacity: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfferEvent(Base):
    """One change of an offer (created, revised, stage moved), with who did it and why."""

    __tablename__ = "offer_events"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    from_stage: Mapped[str | None] = mapped_column(String(20), default=None)
    to_stage: Mapped[str | None] = mapped_column(String(20), default=None)
    actor_org_id: Mapped[str] = mapped_column(String(26))
    actor_user_id: Mapped[str | None] = mapped_column(String(26), default=None)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceOrder(Base):
    """A user's order of one offer version; seen by the ordering and the providing organisation."""

    __tablename__ = "service_orders"

    id: Mapped[str] = _id_column()
    # the ordering organisation owns the order; the provider sees it through provider_org_id
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    provider_org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id", ondelete="RESTRICT"), index=True)
    offer_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    devices: Mapped[list[str]] = mapped_column(JSON)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    twin_state: Mapped[str | None] = mapped_column(String(200), default=None)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    # [{"status": ..., "at": iso, "by": "user" | "provider" | "twin", "reason": ...}, ...]
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderDeliverable(Base):
    """What the provider delivered with an order: one JSON document (a report, a recommendation)."""

    __tablename__ = "order_deliverables"
    __table_args__ = (UniqueConstraint("order_id", name="uq_order_deliverables_order_id"),)

    id: Mapped[str] = _id_column()
    # the providing organisation; the ordering one is copied so reads are scoped without a join
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
