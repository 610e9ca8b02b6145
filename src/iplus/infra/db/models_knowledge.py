"""Tables of the knowledge registry: rules and documents, their revisions, and what they are attached to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


class KnowledgeItem(Base):
    """A rule or a document an organisation keeps, in its newest version."""

    __tablename__ = "knowledge_items"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tags: Mapped[list[str]] = mapped_column(JSON)
    # " tag1 tag2 " so that one LIKE finds a whole tag on every store
    tags_text: Mapped[str] = mapped_column(String(2000))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeRevision(Base):
    """One earlier or current version of a knowledge item, kept whole."""

    __tablename__ = "knowledge_revisions"
    __table_args__ = (UniqueConstraint("item_id", "version", name="uq_knowledge_revisions_item_version"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("knowledge_items.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tags: Mapped[list[str]] = mapped_column(JSON)
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    changed_by: Mapped[str | None] = mapped_column(String(26), default=None)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeLink(Base):
    """An item attached to something of the platform: a device type, an algorithm, a model, a service."""

    __tablename__ = "knowledge_links"
    __table_args__ = (
        UniqueConstraint("item_id", "target_kind", "target_id", name="uq_knowledge_links_target"),
        Index("ix_knowledge_links_lookup", "org_id", "target_kind", "target_id"),
    )

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(ForeignKey("knowledge_items.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(200))
