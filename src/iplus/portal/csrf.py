"""Synchroniser-token CSRF protection for the portal's forms."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from iplus.core.errors import Forbidden

_KEY = "csrf"


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_KEY] = token
    return token


def check_csrf(session: dict[str, Any], submitted: str | None) -> None:
    """Raise ``Forbidden`` unless the form carried the session's token."""
    expected = session.get(_KEY)
    if (
        not isinstance(expected, str)
        or not submitted
        or not hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise Forbidden("the form has expired or did not come from this site: reload and try again")
