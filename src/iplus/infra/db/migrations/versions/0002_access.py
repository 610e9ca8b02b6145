"""portal sessions; access: device types, devices, desired state, commands, dead letters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:00:36.011767
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.String(length=8000), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_dead_letters_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_org_id"), ["org_id"], unique=False)

    op.create_table(
        "device_types",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("thing_model", sa.JSON(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_device_types_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_types")),
        sa.UniqueConstraint("org_id", "name", name="uq_device_types_org_name"),
    )
    with op.batch_alter_table("device_types", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_types_org_id"), ["org_id"], unique=False)

    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_portal_sessions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_portal_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sessions_token_hash")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("type_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_devices_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["device_types.id"],
            name=op.f("fk_devices_type_id_device_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_type_id"), ["type_id"], unique=False)

    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=2000), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_commands_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_commands_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commands_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_commands_org_id"), ["org_id"], unique=False)

    op.create_table(
        "desired_properties",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_desired_properties_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_desired_properties_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desired_properties")),
        sa.UniqueConstraint("device_id", "name", name="uq_desired_properties_device_name"),
    )
    with op.batch_alter_table("desired_properties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desired_properties_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desired_properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desired_properties_org_id"))

    op.drop_table("desired_properties")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commands_org_id"))
        batch_op.drop_index(batch_op.f("ix_commands_device_id"))

    op.drop_table("commands")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_type_id"))
        batch_op.drop_index(batch_op.f("ix_devices_org_id"))

    op.drop_table("devices")
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_user_id"))

    op.drop_table("portal_sessions")
    with op.batch_alter_table("device_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_types_org_id"))

    op.drop_table("device_types")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_org_id"))

    op.drop_table("dead_letters")
