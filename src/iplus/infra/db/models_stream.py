"""Tables of the stream engine: rules per organisation (versioned) and the alarms they raise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.core.ids import new_id
from iplus.infra.db.models import Base


class StreamRule(Base):
    """A rule of one organisation as data; ``version`` grows by one at each change."""

    __tablename__ = "stream_rules"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_stream_rules_org_name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamRuleVersion(Base):
    """Every stored version of a rule, so a change can be read back and compared."""

    __tablename__ = "stream_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version", name="uq_stream_rule_versions_rule_version"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("stream_rules.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alarm(Base):
    """An alarm: raised -> acknowledged -> cleared (or raised -> cleared).

    ``active`` is True while not cleared and NULL afterwards: the unique constraint on
    (rule, subject, active) then allows one active alarm per rule and subject and any number of
    cleared ones, on SQLite and PostgreSQL alike (NULLs never collide).
    """

    __tablename__ = "alarms"
    __table_args__ = (
        UniqueConstraint("org_id", "rule_id", "subject", "active", name="uq_alarms_org_rule_subject_active"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(26), index=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    # a device id, or "group:<rule name>" for a per-group window
    subject: Mapped[str] = mapped_column(String(200), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="raised")
    active: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    detail: Mapped[str] = mapped_column(String(500), default="")
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(26), default=None)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    cleared_by: Mapped[str | None] = mapped_column(String(26), default=None)
