"""The roles an organisation may hold and the scopes a credential may carry."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an organisation does on the platform; one organisation may hold several."""

    OPERATOR = "operator"
    PROVIDER = "provider"
    USER = "user"


class Scope(StrEnum):
    """What a credential may do: read data, write data, or administer the organisation."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ROLE_TITLES: dict[Role, str] = {
    Role.OPERATOR: "Platform operator",
    Role.PROVIDER: "Service provider",
    Role.USER: "Service user",
}
