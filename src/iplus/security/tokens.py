"""Short-lived JWT access tokens (HS256) and opaque secrets stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from iplus.core.clock import utcnow
from iplus.core.errors import Unauthenticated
from iplus.core.ids import new_id
from iplus.core.roles import Role, Scope
from iplus.security.principal import Principal

_ALGORITHM = "HS256"
_ISSUER = "iplus"


def digest(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (API key, refresh token).

    Argon2id is for low-entropy passwords; a 256-bit random secret cannot be guessed, and a
    fast digest keeps per-request key checks cheap instead of turning them into a CPU sink.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenSigner:
    """Issues and verifies access tokens with the platform's secret key."""

    secret: str
    access_ttl: timedelta

    def issue(self, principal: Principal) -> tuple[str, int]:
        """Return a signed access token for ``principal`` and its lifetime in seconds."""
        now = utcnow()
        claims: dict[str, Any] = {
            "iss": _ISSUER,
            "sub": principal.user_id,
            "org": principal.org_id,
            "roles": sorted(r.value for r in principal.roles),
            "scope": " ".join(sorted(s.value for s in principal.scopes)),
            "adm": principal.is_admin,
            "iat": now,
            "exp": now + self.access_ttl,
            "jti": new_id(),
            "typ": "access",
        }
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM), int(self.access_ttl.total_seconds())

    def verify(self, token: str) -> Principal:
        """Return the principal a valid token names; expired or forged tokens are ``Unauthenticated``."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "org", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired: refresh it or log in again") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid access token: {exc}") from exc
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token")
        try:
            return Principal(
                org_id=str(claims["org"]),
                user_id=str(claims["sub"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                scopes=frozenset(Scope(s) for s in str(claims.get("scope", "")).split()),
                is_admin=bool(claims.get("adm", False)),
            )
        except ValueError as exc:
            raise Unauthenticated("access token carries unknown roles or scopes") from exc
