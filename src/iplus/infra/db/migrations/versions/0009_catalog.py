"""service catalog: offers, offer versions, offer history, service orders

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _org(name: str = "org_id") -> sa.Column[str]:
    return sa.Column(name, sa.String(length=26), nullable=False)


def _org_fk(table: str, column: str = "org_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["organisations.id"], name=f"fk_{table}_{column}_organisations", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("suspended_by", sa.String(length=20), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("offers"),
        sa.PrimaryKeyConstraint("id", name="pk_offers"),
    )
    op.create_index("ix_offers_org_id", "offers", ["org_id"])
    op.create_index("ix_offers_stage_published", "offers", ["stage", "published_version"])
    op.create_table(
        "offer_versions",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("capability_type", sa.String(length=200), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("qos", sa.JSON(), nullable=False),
        sa.Column("calendar", sa.JSON(), nullable=False),
        sa.Column("sla", sa.JSON(), nullable=False),
        sa.Column("things", sa.JSON(), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("time_h", sa.Float(), nullable=False),
        sa.Column("reliability", sa.Float(), nullable=False),
        sa.Column("availability", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("offer_versions"),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name="fk_offer_versions_offer_id_offers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offer_versions"),
        sa.UniqueConstraint("offer_id", "version", name="uq_offer_versions_offer_version"),
    )
    op.create_index("ix_offer_versions_org_id", "offer_versions", ["org_id"])
    op.create_index("ix_offer_versions_type_price", "offer_versions", ["capability_type", "price"])
    op.create_index("ix_offer_versions_listed_type", "offer_versions", ["listed", "capability_type", "price"])
    op.create_table(
        "offer_events",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=True),
        sa.Column("actor_org_id", sa.String(length=26), nullable=False),
        sa.Column("actor_user_id", sa.String(length=26), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("at", TS, nullable=False),
        _org_fk("offer_events"),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name="fk_offer_events_offer_id_offers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offer_events"),
    )
    op.create_index("ix_offer_events_org_id", "offer_events", ["org_id"])
    op.create_index("ix_offer_events_offer_id", "offer_events", ["offer_id"])
    op.create_table(
        "service_orders",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        _org("provider_org_id"),
        sa.Column("offer_id", sa.String(length=26), nullable=False),
        sa.Column("offer_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("twin_state", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("service_orders"),
        _org_fk("service_orders", "provider_org_id"),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name="fk_service_orders_offer_id_offers", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_service_orders"),
    )
    op.create_index("ix_service_orders_org_id", "service_orders", ["org_id"])
    op.create_index("ix_service_orders_provider_org_id", "service_orders", ["provider_org_id"])
    op.create_index("ix_service_orders_offer_id", "service_orders", ["offer_id"])


def downgrade() -> None:
    op.drop_table("service_orders")
    op.drop_table("offer_events")
    op.drop_table("offer_versions")
    op.drop_table("offers")
