"""virtual layer: virtual things, grounding links, availability windows, searchable attributes

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organisations.id"], name=op.f(f"fk_{table}_org_id_organisations"), ondelete="CASCADE"
    )


def _thing_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["thing_id"],
        ["virtual_things.id"],
        name=op.f(f"fk_{table}_thing_id_virtual_things"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "virtual_things",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("domain", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("affordances", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _org_fk("virtual_things"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_things")),
    )
    with op.batch_alter_table("virtual_things", schema=None) as batch_op:
        batch_op.create_index("ix_virtual_things_kind_type", ["kind", "type"], unique=False)
        batch_op.create_index("ix_virtual_things_org_kind", ["org_id", "kind"], unique=False)
        batch_op.create_index("ix_virtual_things_visibility_kind", ["visibility", "kind"], unique=False)
        batch_op.create_index("ix_virtual_things_location", ["latitude", "longitude"], unique=False)

    op.create_table(
        "virtual_thing_links",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("thing_id", sa.String(length=26), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        _org_fk("virtual_thing_links"),
        _thing_fk("virtual_thing_links"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_virtual_thing_links_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_thing_links")),
        sa.UniqueConstraint("thing_id", "device_id", name="uq_virtual_thing_links_thing_device"),
    )
    with op.batch_alter_table("virtual_thing_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_thing_links_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_virtual_thing_links_thing_id"), ["thing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_virtual_thing_links_device_id"), ["device_id"], unique=False)

    op.create_table(
        "virtual_thing_windows",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("thing_id", sa.String(length=26), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        _org_fk("virtual_thing_windows"),
        _thing_fk("virtual_thing_windows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_thing_windows")),
    )
    with op.batch_alter_table("virtual_thing_windows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_thing_windows_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_virtual_thing_windows_cover", ["thing_id", "starts_at", "ends_at"], unique=False
        )

    op.create_table(
        "virtual_thing_attributes",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("thing_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("num", sa.Float(), nullable=True),
        sa.Column("text", sa.String(length=500), nullable=True),
        _org_fk("virtual_thing_attributes"),
        _thing_fk("virtual_thing_attributes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_thing_attributes")),
    )
    with op.batch_alter_table("virtual_thing_attributes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_thing_attributes_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_virtual_thing_attributes_thing_id"), ["thing_id"], unique=False)
        batch_op.create_index("ix_virtual_thing_attributes_num", ["key", "num", "thing_id"], unique=False)
        batch_op.create_index("ix_virtual_thing_attributes_text", ["key", "text", "thing_id"], unique=False)


def downgrade() -> None:
    op.drop_table("virtual_thing_attributes")
    op.drop_table("virtual_thing_windows")
    op.drop_table("virtual_thing_links")
    op.drop_table("virtual_things")
