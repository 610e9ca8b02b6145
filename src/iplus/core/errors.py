"""One error root for iplus, subclassed by what the caller should do next."""

from __future__ import annotations

from typing import Any


class IplusError(Exception):
    """Root of every error iplus raises on purpose; carries an HTTP-like status and a slug."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(IplusError):
    """The input is wrong: fix it and send it again."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class NotFound(IplusError):
    """The object does not exist, or is not visible to the caller's organisation."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(IplusError):
    """The object already exists or is in a state that forbids the change."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class Unauthenticated(IplusError):
    """The caller is not known: log in again or send valid credentials."""

    status = 401
    slug = "unauthenticated"
    title = "Unauthenticated"


class Forbidden(IplusError):
    """The caller is known but lacks the role or scope for this action."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotReady(IplusError):
    """A backend is not reachable yet: retry later or check its configuration."""

    status = 503
    slug = "not-ready"
    title = "Service not ready"


class ConfigurationError(IplusError):
    """The settings are wrong or incomplete: fix the configuration and restart."""

    status = 500
    slug = "configuration-error"
    title = "Configuration error"
