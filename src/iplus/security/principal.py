"""Who is calling: a user acting in one organisation, or an organisation's API key."""

from __future__ import annotations

from dataclasses import dataclass

from iplus.core.errors import Forbidden
from iplus.core.roles import Role, Scope


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, with the organisation it acts in and what it may do."""

    org_id: str
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    user_id: str | None = None
    api_key_id: str | None = None
    is_admin: bool = False

    def require_scope(self, scope: Scope) -> None:
        """Raise ``Forbidden`` unless the credential carries ``scope``."""
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the {scope.value!r} scope")

    def require_role(self, role: Role) -> None:
        """Raise ``Forbidden`` unless the caller's organisation holds ``role``."""
        if role not in self.roles:
            raise Forbidden(f"this action needs the {role.value!r} role")

    def require_admin(self) -> None:
        """Raise ``Forbidden`` unless the caller administers its organisation."""
        self.require_scope(Scope.ADMIN)
        if not self.is_admin:
            raise Forbidden("this action needs an administrator of the organisation")
