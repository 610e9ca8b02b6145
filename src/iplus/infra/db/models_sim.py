"""Tables of the simulation engine: runs (one experiment each) and their results per parameter set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.core.ids import new_id
from iplus.infra.db.models import Base


class SimRun(Base):
    """One simulation run or sweep of an organisation: what was asked, its status and progress."""

    __tablename__ = "sim_runs"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    sweep: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    seed: Mapped[int] = mapped_column(BigInteger)
    replications: Mapped[int] = mapped_column(Integer)
    initial_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    device_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(10))  # queued, running, succeeded, failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class SimResult(Base):
    """One parameter set of a run: its parameters, KPI summaries, per-replication KPIs and time series."""

    __tablename__ = "sim_results"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("sim_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON)
    replications: Mapped[list[dict[str, float]]] = mapped_column(JSON)
    series: Mapped[dict[str, list[float]]] = mapped_column(JSON)
