"""knowledge registry: rules and documents, revisions, attachments

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(length=26), nullable=False)


def upgrade() -> None:
    op.create_table(
        "knowledge_items",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("tags_text", sa.String(length=2000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_knowledge_items_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_items")),
    )
    op.create_index(op.f("ix_knowledge_items_org_id"), "knowledge_items", ["org_id"], unique=False)
    op.create_table(
        "knowledge_revisions",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=26), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_knowledge_revisions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["knowledge_items.id"],
            name=op.f("fk_knowledge_revisions_item_id_knowledge_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_revisions")),
        sa.UniqueConstraint("item_id", "version", name="uq_knowledge_revisions_item_version"),
    )
    op.create_index(op.f("ix_knowledge_revisions_org_id"), "knowledge_revisions", ["org_id"], unique=False)
    op.create_table(
        "knowledge_links",
        sa.Column("id", sa.String(length=26), nullable=False),
        _org(),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("target_kind", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_knowledge_links_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["knowledge_items.id"],
            name=op.f("fk_knowledge_links_item_id_knowledge_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_links")),
        sa.UniqueConstraint("item_id", "target_kind", "target_id", name="uq_knowledge_links_target"),
    )
    op.create_index(op.f("ix_knowledge_links_item_id"), "knowledge_links", ["item_id"], unique=False)
    op.create_index(
        "ix_knowledge_links_lookup", "knowledge_links", ["org_id", "target_kind", "target_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("knowledge_links")
    op.drop_table("knowledge_revisions")
    op.drop_table("knowledge_items")
