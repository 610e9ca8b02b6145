"""Tables of the metadata store; every tenant-owned table carries ``org_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Dialect, ForeignKey, String, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from iplus.core.clock import as_utc, utcnow
from iplus.core.ids import new_id


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back aware in UTC (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC."""
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back aware UTC."""
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """Declarative base with the naming convention Alembic needs for portable constraint names."""

    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


Base.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _id_column() -> Mapped[str]:
    return mapped_column(String(26), primary_key=True, default=new_id)


class Organisation(Base):
    """A tenant: a company, park, operator or service provider; holds one or more roles."""

    __tablename__ = "organisations"

    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person who logs in; belongs to organisations through memberships."""

    __tablename__ = "users"

    id: Mapped[str] = _id_column()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """A user's place in an organisation; admins manage the organisation's members and keys."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id", name="uq_memberships_org_user"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A machine credential of an organisation with scopes; only its SHA-256 digest is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class RefreshToken(Base):
    """An opaque, single-use refresh token (digest only); using it issues a new pair."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = _id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalSession(Base):
    """A portal login; the cookie holds only a random id, so logging out ends the session everywhere."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = _id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class DeviceType(Base):
    """A kind of device, described by a W3C WoT Thing Model; readings are validated against it."""

    __tablename__ = "device_types"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_device_types_org_name"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    thing_model: Mapped[dict[str, Any]] = mapped_column(JSON)
    retention_days: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Device(Base):
    """A physical device of one type, with its own credential (SHA-256 digest of its token)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[str] = mapped_column(ForeignKey("device_types.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DesiredProperty(Base):
    """A value the owner wants a device property to take (the desired half of the twin)."""

    __tablename__ = "desired_properties"
    __table_args__ = (UniqueConstraint("device_id", "name", name="uq_desired_properties_device_name"),)

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Command(Base):
    """An action invoked on a device: pending -> delivered -> acknowledged | failed | timed_out."""

    __tablename__ = "commands"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(200))
    input: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    detail: Mapped[str | None] = mapped_column(String(2000), default=None)
    output: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class DeadLetter(Base):
    """A message that could not be stored, kept with the reason so the operator can see it."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = _id_column()
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True, default=None
    )
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)
    channel: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(String(8000))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
