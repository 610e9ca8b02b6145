"""Tables of the health domain: residents (personal data sealed), caregivers, NEWS2, access log, visits.

A resident's personal data (name, birth date, conditions, caregiver notes) is stored only as an
AES-GCM sealed blob; the plain columns hold nothing that names a person (a room label, device ids).
The access log is append-only: the store refuses UPDATE and DELETE on it (triggers of migration
0012), and each entry carries the SHA-256 chain hash of its organisation's log, so a removed or
altered entry is detected by ``iplus.apps.health.records.AccessLog.verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


def _org() -> Mapped[str]:
    return mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class HealthResident(Base):
    """A resident of a care organisation: a room label, worn devices, and the sealed personal record."""

    __tablename__ = "health_residents"
    __table_args__ = (UniqueConstraint("org_id", "label", name="uq_health_residents_org_label"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    # what staff call the place, not the person ("Room 3"): alarms and lists show this
    label: Mapped[str] = mapped_column(String(100))
    wearable_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    cgm_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # version byte + 96-bit nonce + AES-GCM ciphertext and tag of the canonical JSON record
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthCaregiver(Base):
    """A member of the organisation assigned to care for one resident (receives its alarms)."""

    __tablename__ = "health_caregivers"
    __table_args__ = (UniqueConstraint("resident_id", "user_id", name="uq_health_caregivers_resident_user"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("health_residents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthAssessment(Base):
    """A NEWS2 assessment of a resident's vitals, stored when the score or its risk band changes."""

    __tablename__ = "health_assessments"
    __table_args__ = (Index("ix_health_assessments_resident_at", "resident_id", "observed_at"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    resident_id: Mapped[str] = mapped_column(ForeignKey("health_residents.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime] = mapped_column()
    aggregate: Mapped[int] = mapped_column(Integer)
    # none (aggregate 0), low, low-medium, medium, high
    band: Mapped[str] = mapped_column(String(20))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    vitals: Mapped[dict[str, Any]] = mapped_column(JSON)
    red: Mapped[list[str]] = mapped_column(JSON)
    monitoring: Mapped[str] = mapped_column(String(20))
    alarm_id: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthAccessEntry(Base):
    """One access to a resident's personal data: who, when, which record, what, why; never changed."""

    __tablename__ = "health_access_log"
    __table_args__ = (
        UniqueConstraint("org_id", "seq", name="uq_health_access_log_org_seq"),
        Index("ix_health_access_log_org_resident", "org_id", "resident_id"),
    )

    id: Mapped[str] = _id_column()
    # no foreign key: the log outlives the organisation's records (and refuses the cascade's delete)
    org_id: Mapped[str] = mapped_column(String(26))
    seq: Mapped[int] = mapped_column(Integer)
    resident_id: Mapped[str] = mapped_column(String(26))
    action: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list[str]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HealthLogHead(Base):
    """The newest entry of an organisation's access log, write-locked so entries chain in order."""

    __tablename__ = "health_log_heads"

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class HealthVisit(Base):
    """An elderly-care visit a family ordered: the service system and the run that carries it out."""

    __tablename__ = "health_visits"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    system_id: Mapped[str] = mapped_column(ForeignKey("service_systems.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str | None] = mapped_column(String(26), default=None)
    title: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
