"""Request and response bodies of the kernel API."""

from __future__ import annotations

from datetime import datetime

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
