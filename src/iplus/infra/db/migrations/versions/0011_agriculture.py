"""agriculture: irrigation decisions, traceability batches and their hash-chained steps

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
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


def upgrade() -> None:
    op.create_table(
        "agri_decisions",
        _id(),
        _org(),
        sa.Column("field_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("irrigate", sa.Boolean(), nullable=False),
        sa.Column("net_irrigation", sa.Float(), nullable=False),
        sa.Column("gross_irrigation", sa.Float(), nullable=False),
        sa.Column("duration_min", sa.Float(), nullable=False),
        sa.Column("weather", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("et0", sa.JSON(), nullable=False),
        sa.Column("balance", sa.JSON(), nullable=False),
        sa.Column("valve_id", sa.String(length=64), nullable=True),
        sa.Column("command_id", sa.String(length=26), nullable=True),
        sa.Column("command_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("agri_decisions"),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["virtual_things.id"],
            name="fk_agri_decisions_field_id_virtual_things",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agri_decisions"),
        sa.UniqueConstraint("field_id", "day", name="uq_agri_decisions_field_day"),
    )
    op.create_index("ix_agri_decisions_org_id", "agri_decisions", ["org_id"])
    op.create_index("ix_agri_decisions_field_id", "agri_decisions", ["field_id"])
    op.create_table(
        "agri_batches",
        _id(),
        _org(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("field_id", sa.String(length=26), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("agri_batches"),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["virtual_things.id"],
            name="fk_agri_batches_field_id_virtual_things",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agri_batches"),
        sa.UniqueConstraint("code", name="uq_agri_batches_code"),
    )
    op.create_index("ix_agri_batches_org_id", "agri_batches", ["org_id"])
    op.create_table(
        "agri_trace_steps",
        _id(),
        _org(),
        sa.Column("batch_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("agri_trace_steps"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["agri_batches.id"],
            name="fk_agri_trace_steps_batch_id_agri_batches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agri_trace_steps"),
        sa.UniqueConstraint("batch_id", "seq", name="uq_agri_trace_steps_batch_seq"),
    )
    op.create_index("ix_agri_trace_steps_org_id", "agri_trace_steps", ["org_id"])
    op.create_index("ix_agri_trace_steps_batch_id", "agri_trace_steps", ["batch_id"])


def downgrade() -> None:
    op.drop_table("agri_trace_steps")
    op.drop_table("agri_batches")
    op.drop_table("agri_decisions")
