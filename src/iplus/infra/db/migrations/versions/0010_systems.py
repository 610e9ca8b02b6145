"""smart service systems: systems, plans, runs, run tasks, run history, executions, ratings

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(length=26), nullable=False)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(length=26), nullable=False)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organisations.id"], name=f"fk_{table}_org_id_organisations", ondelete="CASCADE"
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "service_systems",
        _id(),
        _org(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("requirement", sa.JSON(), nullable=False),
        sa.Column("plans", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("service_systems"),
        sa.PrimaryKeyConstraint("id", name="pk_service_systems"),
    )
    op.create_index("ix_service_systems_org_id", "service_systems", ["org_id"])
    op.create_table(
        "service_plans",
        _id(),
        _org(),
        sa.Column("system_id", sa.String(length=26), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.Column("aggregate", sa.JSON(), nullable=False),
        sa.Column("utility", sa.Float(), nullable=False),
        sa.Column("bound", sa.Float(), nullable=True),
        sa.Column("gap", sa.Float(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("forecast", sa.JSON(), nullable=True),
        sa.Column("solve_ms", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("service_plans"),
        _fk("service_plans", "system_id", "service_systems"),
        sa.PrimaryKeyConstraint("id", name="pk_service_plans"),
        sa.UniqueConstraint("system_id", "number", name="uq_service_plans_system_number"),
    )
    op.create_index("ix_service_plans_org_id", "service_plans", ["org_id"])
    op.create_index("ix_service_plans_system_id", "service_plans", ["system_id"])
    op.create_table(
        "service_runs",
        _id(),
        _org(),
        sa.Column("system_id", sa.String(length=26), nullable=False),
        sa.Column("plan_id", sa.String(length=26), nullable=False),
        sa.Column("plan_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("slack", sa.Float(), nullable=False),
        sa.Column("deadline_at", TS, nullable=True),
        sa.Column("deadline_alarm", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("service_runs"),
        _fk("service_runs", "system_id", "service_systems"),
        _fk("service_runs", "plan_id", "service_plans"),
        sa.PrimaryKeyConstraint("id", name="pk_service_runs"),
    )
    op.create_index("ix_service_runs_org_id", "service_runs", ["org_id"])
    op.create_index("ix_service_runs_system_id", "service_runs", ["system_id"])
    op.create_index("ix_service_runs_status", "service_runs", ["status"])
    op.create_table(
        "service_run_tasks",
        _id(),
        _org(),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("task_id", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("offer_version", sa.Integer(), nullable=False),
        sa.Column("provider_org_id", sa.String(length=26), nullable=False),
        sa.Column("option", sa.JSON(), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=True),
        sa.Column("order_status", sa.String(length=20), nullable=True),
        sa.Column("window_start", TS, nullable=True),
        sa.Column("window_end", TS, nullable=True),
        sa.Column("dispatched_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("service_run_tasks"),
        _fk("service_run_tasks", "run_id", "service_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_service_run_tasks"),
        sa.UniqueConstraint("run_id", "key", "attempt", name="uq_service_run_tasks_run_key_attempt"),
    )
    op.create_index("ix_service_run_tasks_org_id", "service_run_tasks", ["org_id"])
    op.create_index("ix_service_run_tasks_run_id", "service_run_tasks", ["run_id"])
    op.create_index("ix_service_run_tasks_provider_org_id", "service_run_tasks", ["provider_org_id"])
    op.create_index("ix_service_run_tasks_order_id", "service_run_tasks", ["order_id"])
    op.create_table(
        "service_run_events",
        _id(),
        _org(),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("task_key", sa.String(length=200), nullable=True),
        sa.Column("provider_org_id", sa.String(length=26), nullable=True),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", TS, nullable=False),
        _org_fk("service_run_events"),
        _fk("service_run_events", "run_id", "service_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_service_run_events"),
        sa.UniqueConstraint("run_id", "seq", name="uq_service_run_events_run_seq"),
    )
    op.create_index("ix_service_run_events_org_id", "service_run_events", ["org_id"])
    op.create_index("ix_service_run_events_run_id", "service_run_events", ["run_id"])
    op.create_table(
        "service_executions",
        _id(),
        _org(),
        sa.Column("provider_org_id", sa.String(length=26), nullable=False),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("offer_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("run_task_id", sa.String(length=26), nullable=False),
        sa.Column("task_id", sa.String(length=63), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("actual_time_h", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("promised_time_h", sa.Float(), nullable=False),
        sa.Column("promised_cost", sa.Float(), nullable=False),
        sa.Column("promised_reliability", sa.Float(), nullable=False),
        sa.Column("promised_availability", sa.Float(), nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        _org_fk("service_executions"),
        _fk("service_executions", "run_id", "service_runs"),
        _fk("service_executions", "run_task_id", "service_run_tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_service_executions"),
        sa.UniqueConstraint("run_task_id", name="uq_service_executions_run_task_id"),
    )
    op.create_index("ix_service_executions_org_id", "service_executions", ["org_id"])
    op.create_index("ix_service_executions_provider_org_id", "service_executions", ["provider_org_id"])
    op.create_index("ix_service_executions_offer_id", "service_executions", ["offer_id"])
    op.create_index("ix_service_executions_run_id", "service_executions", ["run_id"])
    op.create_table(
        "service_ratings",
        _id(),
        _org(),
        sa.Column("provider_org_id", sa.String(length=26), nullable=False),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("run_task_id", sa.String(length=26), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("service_ratings"),
        _fk("service_ratings", "run_id", "service_runs"),
        _fk("service_ratings", "run_task_id", "service_run_tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_service_ratings"),
        sa.UniqueConstraint("run_task_id", name="uq_service_ratings_run_task_id"),
    )
    op.create_index("ix_service_ratings_org_id", "service_ratings", ["org_id"])
    op.create_index("ix_service_ratings_provider_org_id", "service_ratings", ["provider_org_id"])
    op.create_index("ix_service_ratings_offer_id", "service_ratings", ["offer_id"])
    op.create_index("ix_service_ratings_run_id", "service_ratings", ["run_id"])


def downgrade() -> None:
    op.drop_table("service_ratings")
    op.drop_table("service_executions")
    op.drop_table("service_run_events")
    op.drop_table("service_run_tasks")
    op.drop_table("service_runs")
    op.drop_table("service_plans")
    op.drop_table("service_systems")
