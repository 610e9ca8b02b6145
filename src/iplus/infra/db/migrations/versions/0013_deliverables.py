"""service catalog: deliverables of orders (one JSON document per order)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _org_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["organisations.id"],
        name=f"fk_order_deliverables_{column}_organisations",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "order_deliverables",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("user_org_id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("org_id"),
        _org_fk("user_org_id"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["service_orders.id"],
            name="fk_order_deliverables_order_id_service_orders",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_deliverables"),
        sa.UniqueConstraint("order_id", name="uq_order_deliverables_order_id"),
    )
    op.create_index("ix_order_deliverables_org_id", "order_deliverables", ["org_id"])
    op.create_index("ix_order_deliverables_user_org_id", "order_deliverables", ["user_org_id"])


def downgrade() -> None:
    op.drop_table("order_deliverables")
