"""health and elderly care: residents (sealed personal data), caregivers, NEWS2, access log, visits

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = "the health access log is append-only"


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(length=26), nullable=False)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(length=26), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "health_residents",
        _id(),
        _org(),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("wearable_id", sa.String(length=64), nullable=True),
        sa.Column("cgm_id", sa.String(length=64), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("health_residents", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name="pk_health_residents"),
        sa.UniqueConstraint("org_id", "label", name="uq_health_residents_org_label"),
        sa.UniqueConstraint("wearable_id", name="uq_health_residents_wearable_id"),
        sa.UniqueConstraint("cgm_id", name="uq_health_residents_cgm_id"),
    )
    op.create_index("ix_health_residents_org_id", "health_residents", ["org_id"])
    op.create_table(
        "health_caregivers",
        _id(),
        _org(),
        sa.Column("resident_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("health_caregivers", "org_id", "organisations"),
        _fk("health_caregivers", "resident_id", "health_residents"),
        _fk("health_caregivers", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_health_caregivers"),
        sa.UniqueConstraint("resident_id", "user_id", name="uq_health_caregivers_resident_user"),
    )
    op.create_index("ix_health_caregivers_org_id", "health_caregivers", ["org_id"])
    op.create_index("ix_health_caregivers_resident_id", "health_caregivers", ["resident_id"])
    op.create_index("ix_health_caregivers_user_id", "health_caregivers", ["user_id"])
    op.create_table(
        "health_assessments",
        _id(),
        _org(),
        sa.Column("resident_id", sa.String(length=26), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("aggregate", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("vitals", sa.JSON(), nullable=False),
        sa.Column("red", sa.JSON(), nullable=False),
        sa.Column("monitoring", sa.String(length=20), nullable=False),
        sa.Column("alarm_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("health_assessments", "org_id", "organisations"),
        _fk("health_assessments", "resident_id", "health_residents"),
        sa.PrimaryKeyConstraint("id", name="pk_health_assessments"),
    )
    op.create_index("ix_health_assessments_org_id", "health_assessments", ["org_id"])
    op.create_index("ix_health_assessments_resident_at", "health_assessments", ["resident_id", "observed_at"])
    op.create_table(
        "health_access_log",
        _id(),
        _org(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=26), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_health_access_log"),
        sa.UniqueConstraint("org_id", "seq", name="uq_health_access_log_org_seq"),
    )
    op.create_index("ix_health_access_log_org_resident", "health_access_log", ["org_id", "resident_id"])
    op.create_table(
        "health_log_heads",
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_health_log_heads"),
    )
    op.create_table(
        "health_visits",
        _id(),
        _org(),
        sa.Column("system_id", sa.String(length=26), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("health_visits", "org_id", "organisations"),
        _fk("health_visits", "system_id", "service_systems"),
        sa.PrimaryKeyConstraint("id", name="pk_health_visits"),
    )
    op.create_index("ix_health_visits_org_id", "health_visits", ["org_id"])
    op.create_index("ix_health_visits_system_id", "health_visits", ["system_id"])
    # the store itself refuses to change or remove an access-log entry, whoever asks
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION health_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER health_access_log_no_change BEFORE UPDATE OR DELETE ON health_access_log "
            "FOR EACH ROW EXECUTE FUNCTION health_access_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER health_access_log_no_truncate BEFORE TRUNCATE ON health_access_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION health_access_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER health_access_log_no_{verb.lower()} BEFORE {verb} ON health_access_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    op.drop_table("health_visits")
    op.drop_table("health_log_heads")
    op.drop_table("health_access_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS health_access_log_append_only()")
    op.drop_table("health_assessments")
    op.drop_table("health_caregivers")
    op.drop_table("health_residents")
