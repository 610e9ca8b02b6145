"""batch engine: analytics jobs and their runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 02:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_jobs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("sql", sa.String(length=20000), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=True),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("row_limit", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_analytics_jobs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_jobs")),
        sa.UniqueConstraint("org_id", "name", name="uq_analytics_jobs_org_name"),
    )
    with op.batch_alter_table("analytics_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_jobs_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analytics_jobs_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "analytics_runs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("job_id", sa.String(length=26), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("output", sa.String(length=300), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_analytics_runs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analytics_jobs.id"],
            name=op.f("fk_analytics_runs_job_id_analytics_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_runs")),
    )
    with op.batch_alter_table("analytics_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_runs_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analytics_runs_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_table("analytics_runs")
    op.drop_table("analytics_jobs")
