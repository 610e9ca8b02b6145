"""Tables of smart service systems: requirements, plans, runs, their tasks, history, executions, ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iplus.core.clock import utcnow
from iplus.infra.db.models import Base, _id_column


def _org() -> Mapped[str]:
    return mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class ServiceSystem(Base):
    """A user's smart service system: the requirement document it was built from."""

    __tablename__ = "service_systems"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    name: Mapped[str] = mapped_column(String(200))
    requirement: Mapped[dict[str, Any]] = mapped_column(JSON)
    plans: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServicePlan(Base):
    """One construction of a system: chosen services, aggregate QoS, schedule, forecast; numbered from 1."""

    __tablename__ = "service_plans"
    __table_args__ = (UniqueConstraint("system_id", "number", name="uq_service_plans_system_number"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    system_id: Mapped[str] = mapped_column(ForeignKey("service_systems.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    # task id -> the chosen option (offer, version, provider, promised QoS, reputation)
    choice: Mapped[dict[str, Any]] = mapped_column(JSON)
    aggregate: Mapped[dict[str, Any]] = mapped_column(JSON)
    utility: Mapped[float] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float, default=None)
    gap: Mapped[float | None] = mapped_column(Float, default=None)
    explanation: Mapped[list[str]] = mapped_column(JSON)
    ranking: Mapped[dict[str, Any]] = mapped_column(JSON)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    forecast: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    solve_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceRun(Base):
    """One execution of a stored plan: running -> completed | failed | cancelled."""

    __tablename__ = "service_runs"
    __table_args__ = (Index("ix_service_runs_status", "status"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    system_id: Mapped[str] = mapped_column(ForeignKey("service_systems.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("service_plans.id", ondelete="CASCADE"))
    plan_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")
    seed: Mapped[int | None] = mapped_column(Integer, default=None)
    # choice node path (with loop iterations) -> the branch taken, 0-based
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSON)
    # task id -> the parameter values sent with its orders
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    slack: Mapped[float] = mapped_column(Float, default=0.5)
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline_alarm: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceRunTask(Base):
    """One attempt of one task instance of a run (a loop repeats a task: one instance per iteration)."""

    __tablename__ = "service_run_tasks"
    __table_args__ = (
        UniqueConstraint("run_id", "key", "attempt", name="uq_service_run_tasks_run_key_attempt"),
    )

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    run_id: Mapped[str] = mapped_column(ForeignKey("service_runs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # instance keys that must be done before this one is dispatched
    after: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    offer_id: Mapped[str] = mapped_column(String(26))
    offer_version: Mapped[int] = mapped_column(Integer)
    provider_org_id: Mapped[str] = mapped_column(String(26), index=True)
    option: Mapped[dict[str, Any]] = mapped_column(JSON)
    order_id: Mapped[str | None] = mapped_column(String(26), index=True, default=None)
    # the order's status as last seen, so each change is told once in the run's history
    order_status: Mapped[str | None] = mapped_column(String(20), default=None)
    window_start: Mapped[datetime | None] = mapped_column(default=None)
    window_end: Mapped[datetime | None] = mapped_column(default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceRunEvent(Base):
    """One entry of a run's append-only history, numbered from 1."""

    __tablename__ = "service_run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_service_run_events_run_seq"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    run_id: Mapped[str] = mapped_column(ForeignKey("service_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    task_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # the provider the event concerns, so a provider sees the events of its own tasks only
    provider_org_id: Mapped[str | None] = mapped_column(String(26), default=None)
    message: Mapped[str] = mapped_column(String(2000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceExecution(Base):
    """Measured QoS of one dispatched task against what the offer promised: the evidence of reputation."""

    __tablename__ = "service_executions"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    provider_org_id: Mapped[str] = mapped_column(String(26), index=True)
    offer_id: Mapped[str] = mapped_column(String(26), index=True)
    offer_version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(ForeignKey("service_runs.id", ondelete="CASCADE"), index=True)
    run_task_id: Mapped[str] = mapped_column(
        ForeignKey("service_run_tasks.id", ondelete="CASCADE"), unique=True
    )
    task_id: Mapped[str] = mapped_column(String(63))
    success: Mapped[bool] = mapped_column(Boolean)
    actual_time_h: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    promised_time_h: Mapped[float] = mapped_column(Float)
    promised_cost: Mapped[float] = mapped_column(Float)
    promised_reliability: Mapped[float] = mapped_column(Float)
    promised_availability: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceRating(Base):
    """A user's rating (1-5 stars) of one dispatched task of a run; one per run task."""

    __tablename__ = "service_ratings"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = _org()
    provider_org_id: Mapped[str] = mapped_column(String(26), index=True)
    offer_id: Mapped[str] = mapped_column(String(26), index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("service_runs.id", ondelete="CASCADE"), index=True)
    run_task_id: Mapped[str] = mapped_column(
        ForeignKey("service_run_tasks.id", ondelete="CASCADE"), unique=True
    )
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
