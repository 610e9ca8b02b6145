"""Tables of the virtual layer: virtual things, their grounding links, calendars and searchable attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


class VirtualThing(Base):
    """A virtual resource, capability or product: a WoT Thing Description with a taxonomy type."""

    __tablename__ = "virtual_things"
    __table_args__ = (
        # the pool filters: kind + type (sub-types become IN lists), owner, and a location box
        Index("ix_virtual_things_kind_type", "kind", "type"),
        Index("ix_virtual_things_org_kind", "org_id", "kind"),
        Index("ix_virtual_things_visibility_kind", "visibility", "kind"),
        Index("ix_virtual_things_location", "latitude", "longitude"),
    )

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # lower-cased title, description, type titles and text attributes: one LIKE per search word
    search_text: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(10), default="private")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    # {"properties": {...}, "actions": {...}, "events": {...}}: WoT affordances without forms
    affordances: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VirtualThingLink(Base):
    """A device (and its twin) grounding a virtual thing, with twin property -> virtual property names."""

    __tablename__ = "virtual_thing_links"
    __table_args__ = (UniqueConstraint("thing_id", "device_id", name="uq_virtual_thing_links_thing_device"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    thing_id: Mapped[str] = mapped_column(ForeignKey("virtual_things.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    # {virtual property: twin property}
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class VirtualThingWindow(Base):
    """One time window in which a virtual thing is available; overlapping windows are merged on write."""

    __tablename__ = "virtual_thing_windows"
    __table_args__ = (Index("ix_virtual_thing_windows_cover", "thing_id", "starts_at", "ends_at"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    thing_id: Mapped[str] = mapped_column(ForeignKey("virtual_things.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()


class VirtualThingAttribute(Base):
    """One attribute of a virtual thing as the pools search it: a number or lower-cased text."""

    __tablename__ = "virtual_thing_attributes"
    __table_args__ = (
        Index("ix_virtual_thing_attributes_num", "key", "num", "thing_id"),
        Index("ix_virtual_thing_attributes_text", "key", "text", "thing_id"),
    )

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    thing_id: Mapped[str] = mapped_column(ForeignKey("virtual_things.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    num: Mapped[float | None] = mapped_column(Float, default=None)
    text: Mapped[str | None] = mapped_column(String(500), default=None)
