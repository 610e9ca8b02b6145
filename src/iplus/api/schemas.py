"""Request and response bodies of the kernel API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from iplus.core.roles import Role, Scope


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class TokenOut(BaseModel):
    """An OAuth2 token response with a refresh token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    org_id: str


class RefreshIn(BaseModel):
    """A refresh token to trade for a new pair."""

    refresh_token: str = Field(min_length=1, max_length=200)


class MeOut(BaseModel):
    """The caller as the platform sees it."""

    org_id: str
    user_id: str | None
    api_key_id: str | None
    roles: list[Role]
    scopes: list[Scope]
    is_admin: bool


class OrgIn(BaseModel):
    """A new organisation."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=3)


class OrgOut(BaseModel):
    """An organisation."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    roles: list[Role]
    created_at: datetime


class UserIn(BaseModel):
    """A new user, member of the caller's organisation (or ``org_id``, for operators)."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=10, max_length=200)
    is_admin: bool = False
    org_id: str | None = Field(default=None, max_length=26)


class UserOut(BaseModel):
    """A user as a member of one organisation."""

    id: str
    email: str
    name: str
    is_active: bool
    org_id: str
    is_admin: bool
    created_at: datetime


class ApiKeyIn(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyOut(BaseModel):
    """An API key's metadata; the key itself is never shown again."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A new API key with its plain value, shown this once."""

    key: str


class BackendHealth(BaseModel):
    """One backend's readiness."""

    ok: bool
    backend: str
    detail: str
    latency_ms: float


class HealthOut(BaseModel):
    """Liveness and per-backend readiness."""

    live: bool
    ready: bool
    version: str
    backends: dict[str, BackendHealth]


class DeviceTypeIn(BaseModel):
    """A new device type: a name and a W3C WoT Thing Model."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    thing_model: dict[str, Any]
    retention_days: int | None = Field(default=None, ge=1, le=36_500)


class DeviceTypeOut(BaseModel):
    """A device type."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    thing_model: dict[str, Any]
    retention_days: int | None
    created_at: datetime


class DeviceIn(BaseModel):
    """A new device: its type (id or name) and optional id, name, tags and location."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=200)
    id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class DevicesIn(BaseModel):
    """Many new devices at once (all or none)."""

    model_config = ConfigDict(extra="forbid")
    devices: list[DeviceIn] = Field(min_length=1, max_length=10_000)


class DeviceOut(BaseModel):
    """A device (its token is never shown again)."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    type_id: str
    name: str
    tags: list[str]
    latitude: float | None
    longitude: float | None
    created_at: datetime


class DeviceCreated(DeviceOut):
    """A new device with its token, shown this once."""

    token: str


class TelemetryMessageIn(BaseModel):
    """One message of a batch: a device's values (or a SenML pack) with optional time and id."""

    device_id: str = Field(min_length=1, max_length=64)
    msg_id: str | None = Field(default=None, min_length=1, max_length=128)
    ts: str | float | None = None
    values: dict[str, Any] | None = None
    senml: list[dict[str, Any]] | None = None


class TelemetryBatchIn(BaseModel):
    """Messages of many devices of the caller's organisation."""

    messages: list[TelemetryMessageIn] = Field(min_length=1, max_length=100_000)


class IngestOut(BaseModel):
    """How many messages were new and how many were resends already stored."""

    stored: int
    duplicates: int


class ReadingOut(BaseModel):
    """One reading."""

    device_id: str
    key: str
    ts: datetime
    value: float | bool | str | None


class BucketOut(BaseModel):
    """Aggregates of one time bucket."""

    bucket: datetime
    device_id: str | None
    key: str
    values: dict[str, float | int | None]


class CommandIn(BaseModel):
    """Invoke an action of the device's thing model."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=200)
    input: Any = None
    timeout_s: float = Field(default=30.0, ge=1, le=86_400)


class CommandOut(BaseModel):
    """A command and where it stands."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    device_id: str
    action: str
    input: Any
    status: str
    detail: str | None
    output: Any
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class DeadLetterOut(BaseModel):
    """A refused message with its reasons."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str | None
    device_id: str | None
    channel: str
    topic: str
    payload: str
    reasons: list[str]
    received_at: datetime
