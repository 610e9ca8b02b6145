"""Tables of the agriculture domain: irrigation decisions and hash-chained traceability records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


def _org() -> Mapped[str]:
    return mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class AgriDecision(Base):
    """One field's irrigation decision for one day, with every input and intermediate it was made from."""

    __tablename__ = "agri_decisions"
    __table_args__ = (UniqueConstraint("field_id", "day", name="uq_agri_decisions_field_day"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    # the field is a virtual thing (type "field", FIWARE AgriParcel)
    field_id: Mapped[str] = mapped_column(ForeignKey("virtual_things.id", ondelete="CASCADE"), index=True)
    day: Mapped[str] = mapped_column(String(10))  # the weather day decided on, YYYY-MM-DD
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual
    irrigate: Mapped[bool] = mapped_column(Boolean)
    net_irrigation: Mapped[float] = mapped_column(Float, default=0.0)
    gross_irrigation: Mapped[float] = mapped_column(Float, default=0.0)
    duration_min: Mapped[float] = mapped_column(Float, default=0.0)
    # the station's daily aggregates, the balance inputs, and both algorithms' outputs
    weather: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    et0: Mapped[dict[str, Any]] = mapped_column(JSON)
    balance: Mapped[dict[str, Any]] = mapped_column(JSON)
    valve_id: Mapped[str | None] = mapped_column(String(64), default=None)
    command_id: Mapped[str | None] = mapped_column(String(26), default=None)
    command_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgriBatch(Base):
    """A product batch traced from field to shelf; ``code`` is its public, unguessable QR code id."""

    __tablename__ = "agri_batches"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    product: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[float | None] = mapped_column(Float, default=None)
    unit: Mapped[str] = mapped_column(String(20), default="kg")
    field_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_things.id", ondelete="SET NULL"), default=None
    )
    steps: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgriTraceStep(Base):
    """One step of a batch's record; ``hash`` = SHA-256(previous hash + canonical JSON of the step)."""

    __tablename__ = "agri_trace_steps"
    __table_args__ = (UniqueConstraint("batch_id", "seq", name="uq_agri_trace_steps_batch_seq"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    batch_id: Mapped[str] = mapped_column(ForeignKey("agri_batches.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # harvest | processing | transport | shelf
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
