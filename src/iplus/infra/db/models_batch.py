"""Tables of the batch engine: saved analytics jobs (queries and exports) and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.core.ids import new_id
from iplus.infra.db.models import Base


class AnalyticsJob(Base):
    """A saved query or export of one organisation, run on demand or on a cron schedule."""

    __tablename__ = "analytics_jobs"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_analytics_jobs_org_name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # "query" or "export"
    sql: Mapped[str | None] = mapped_column(String(20_000), default=None)
    params: Mapped[list[Any]] = mapped_column(JSON, default=list)
    selection: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    format: Mapped[str] = mapped_column(String(10), default="csv")
    row_limit: Mapped[int] = mapped_column(Integer, default=100_000)
    schedule: Mapped[str | None] = mapped_column(String(100), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsRun(Base):
    """One run of a job: status, times, rows, output file under the data folder, or the error."""

    __tablename__ = "analytics_runs"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("analytics_jobs.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(10))  # "manual" or "schedule"
    status: Mapped[str] = mapped_column(String(10))  # running, succeeded, failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    rows: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
    output: Mapped[str | None] = mapped_column(String(300), default=None)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
