"""Tables of the model registry: versions of trained models with metrics, lineage, stage and artifact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.core.ids import new_id
from iplus.infra.db.models import Base

STAGES = ("candidate", "production", "archived")


class ModelVersion(Base):
    """One trained version of a named model of an organisation; the artifact is stored with its SHA-256."""

    __tablename__ = "ai_model_versions"
    __table_args__ = (
        UniqueConstraint("org_id", "name", "version", name="uq_ai_model_versions_org_name_version"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20), default="candidate")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # data range, device selection, key, parameters and code version the model came from
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the test split (forecast vs actual) or the scores, thinned for a chart
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_format: Mapped[str] = mapped_column(String(20))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_size: Mapped[int] = mapped_column(Integer)
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
