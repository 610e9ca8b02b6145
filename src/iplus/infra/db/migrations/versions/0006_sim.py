"""simulation engine: runs and their results

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sim_runs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("sweep", sa.JSON(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("replications", sa.Integer(), nullable=False),
        sa.Column("initial_state", sa.JSON(), nullable=True),
        sa.Column("device_ids", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_sim_runs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_sim_runs_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_runs")),
    )
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sim_runs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "sim_results",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("replications", sa.JSON(), nullable=False),
        sa.Column("series", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_sim_results_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sim_runs.id"], name=op.f("fk_sim_results_run_id_sim_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_results")),
    )
    with op.batch_alter_table("sim_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sim_results_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sim_results_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sim_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sim_results_run_id"))
        batch_op.drop_index(batch_op.f("ix_sim_results_org_id"))
    op.drop_table("sim_results")
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sim_runs_org_id"))
    op.drop_table("sim_runs")
