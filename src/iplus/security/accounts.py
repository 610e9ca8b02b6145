"""Organisations, users, memberships, logins, refresh tokens and API keys."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from iplus.core.ids import new_secret
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import ApiKey, Membership, Organisation, PortalSession, RefreshToken, User
from iplus.infra.db.repos import (
    ApiKeyLookup,
    ApiKeyRepository,
    MemberRepository,
    OrganisationDirectory,
    RefreshTokenStore,
    SessionStore,
    UserDirectory,
)
from iplus.security.passwords import check_strength, hash_password, verify_password
from iplus.security.principal import Principal
from iplus.security.tokens import TokenSigner, digest

API_KEY_PREFIX = "ipk_"
PLATFORM_ORG = "Platform operations"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class TokenPair:
    """What a login or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal


@dataclass(frozen=True)
class Seed:
    """An organisation and its first administrator, created on an empty store."""

    org_name: str
    roles: list[str]
    email: str
    name: str
    password: str | None = None


@dataclass(frozen=True)
class Member:
    """A user as seen from one organisation."""

    user: User
    membership: Membership


def _principal(org: Organisation, membership: Membership) -> Principal:
    scopes = {Scope.READ, Scope.WRITE} | ({Scope.ADMIN} if membership.is_admin else set())
    return Principal(
        org_id=org.id,
        user_id=membership.user_id,
        roles=frozenset(Role(r) for r in org.roles),
        scopes=frozenset(scopes),
        is_admin=membership.is_admin,
    )


def parse_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    """Validate and de-duplicate role names, keeping their order."""
    if not roles:
        raise InvalidInput("an organisation needs at least one role: operator, provider or user")
    out: list[str] = []
    for name in roles:
        try:
            value = Role(name.strip().lower()).value
        except ValueError as exc:
            raise InvalidInput(f"unknown role {name!r}: choose from operator, provider, user") from exc
        if value not in out:
            out.append(value)
    return out


class Accounts:
    """The account service; every method runs in its own transaction."""

    def __init__(self, db: Database, signer: TokenSigner, refresh_ttl: timedelta) -> None:
        self.db = db
        self.signer = signer
        self.refresh_ttl = refresh_ttl
        # each Argon2id check takes 64 MiB and tens of ms: bound how many run at once
        self._hashing = asyncio.Semaphore(4)

    # organisations -------------------------------------------------------------------
    async def create_organisation(self, name: str, roles: list[str]) -> Organisation:
        """Create a tenant holding ``roles``."""
        name = name.strip()
        if not name:
            raise InvalidInput("organisation name must not be empty")
        async with self.db.transaction() as s:
            return await OrganisationDirectory(s).add(Organisation(name=name, roles=parse_roles(roles)))

    async def list_organisations(
        self, caller: Principal, *, offset: int = 0, limit: int = 100
    ) -> list[Organisation]:
        """All organisations for operators; a tenant sees its own only."""
        async with self.db.transaction() as s:
            directory = OrganisationDirectory(s)
            if Role.OPERATOR in caller.roles:
                return await directory.list(offset=offset, limit=limit)
            return [await directory.get(caller.org_id)] if offset == 0 else []

    async def all_organisations(self) -> list[Organisation]:
        """Every organisation, for the operator's command line (which has host-level authority)."""
        async with self.db.transaction() as s:
            return await OrganisationDirectory(s).list(limit=1_000_000)

    async def get_organisation(self, caller: Principal, org_id: str) -> Organisation:
        """One organisation; another tenant's answers ``NotFound`` unless the caller operates."""
        if org_id != caller.org_id and Role.OPERATOR not in caller.roles:
            raise NotFound(f"organisation {org_id} not found")
        async with self.db.transaction() as s:
            return await OrganisationDirectory(s).get(org_id)

    async def organisation_by_name(self, name: str) -> Organisation:
        """The organisation with this exact name."""
        async with self.db.transaction() as s:
            org = await OrganisationDirectory(s).by_name(name)
        if org is None:
            raise NotFound(f"organisation {name!r} not found")
        return org

    # users ---------------------------------------------------------------------------
    async def create_user(
        self, *, org_id: str, email: str, name: str, password: str, is_admin: bool = False
    ) -> Member:
        """Create a user with a membership of ``org_id``."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidInput(f"{email!r} is not an e-mail address")
        check_strength(password)
        password_hash = await asyncio.to_thread(hash_password, password)  # slow: off the loop
        async with self.db.transaction() as s:
            await OrganisationDirectory(s).get(org_id)
            user = await UserDirectory(s).add(
                User(email=email, name=(name.strip() or email)[:200], password_hash=password_hash)
            )
            membership = Membership(org_id=org_id, user_id=user.id, is_admin=is_admin)
            s.add(membership)
            await s.flush()
            return Member(user, membership)

    async def list_members(self, org_id: str, *, offset: int = 0, limit: int = 100) -> list[Member]:
        """A page of the organisation's members."""
        async with self.db.transaction() as s:
            rows = await MemberRepository(s, org_id).list(offset=offset, limit=limit)
        return [Member(u, m) for u, m in rows]

    async def get_member(self, org_id: str, user_id: str) -> Member:
        """One member of the organisation; anyone else answers ``NotFound``."""
        async with self.db.transaction() as s:
            user, membership = await MemberRepository(s, org_id).get(user_id)
        return Member(user, membership)

    async def count_users(self) -> int:
        """How many users the platform has."""
        async with self.db.transaction() as s:
            return await UserDirectory(s).count()

    # login and tokens ----------------------------------------------------------------
    async def authenticate(self, email: str, password: str, org_id: str | None = None) -> Principal:
        """Check a password; the principal acts in ``org_id`` or the user's first organisation."""
        async with self.db.transaction() as s:
            users = UserDirectory(s)
            user = await users.by_email(email)
            memberships = await users.memberships(user.id) if user else []
        # Argon2id costs tens of milliseconds of CPU: keep it off the event loop
        async with self._hashing:
            ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            raise Unauthenticated("wrong e-mail or password")
        chosen = [(m, o) for m, o in memberships if org_id in (None, o.id)]
        if not chosen:
            raise Forbidden("this user is not a member of that organisation")
        membership, org = chosen[0]
        return _principal(org, membership)

    async def login(self, email: str, password: str, org_id: str | None = None) -> TokenPair:
        """Check a password and issue a token pair."""
        principal = await self.authenticate(email, password, org_id)
        async with self.db.transaction() as s:
            return await self._issue(s, principal)

    async def principal_for(self, user_id: str, org_id: str) -> Principal:
        """The principal of a user acting in an organisation, read fresh from the store."""
        async with self.db.transaction() as s:
            user = await UserDirectory(s).by_id(user_id)
            if user is None or not user.is_active:
                raise Unauthenticated("the user no longer exists or is disabled")
            for membership, org in await UserDirectory(s).memberships(user_id):
                if org.id == org_id:
                    return _principal(org, membership)
        raise Unauthenticated("the user is no longer a member of that organisation")

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair; each refresh token works once."""
        async with self.db.transaction() as s:
            owner = await RefreshTokenStore(s).consume(digest(refresh_token), utcnow())
        if owner is None:
            raise Unauthenticated("refresh token is invalid, used or expired: log in again")
        principal = await self.principal_for(*owner)
        async with self.db.transaction() as s:
            return await self._issue(s, principal)

    # portal sessions -----------------------------------------------------------------
    async def open_session(self, principal: Principal, ttl: timedelta) -> str:
        """Start a portal session; returns the random id the cookie carries."""
        assert principal.user_id is not None
        token = new_secret()
        async with self.db.transaction() as s:
            await SessionStore(s).add(
                PortalSession(
                    token_hash=digest(token),
                    user_id=principal.user_id,
                    org_id=principal.org_id,
                    expires_at=utcnow() + ttl,
                )
            )
        return token

    async def session_principal(self, token: str) -> Principal | None:
        """The principal of a live portal session, read fresh; None when it ended or expired."""
        async with self.db.transaction() as s:
            row = await SessionStore(s).live(digest(token), utcnow())
            owner = None if row is None else (row.user_id, row.org_id)
        if owner is None:
            return None
        try:
            return await self.principal_for(*owner)
        except Unauthenticated:
            return None

    async def close_session(self, token: str) -> None:
        """End a portal session on the server, so a copied cookie stops working too."""
        async with self.db.transaction() as s:
            await SessionStore(s).remove(digest(token))

    async def _issue(self, session: AsyncSession, principal: Principal) -> TokenPair:
        access, expires_in = self.signer.issue(principal)
        refresh = new_secret()
        assert principal.user_id is not None
        await RefreshTokenStore(session).add(
            RefreshToken(
                user_id=principal.user_id,
                org_id=principal.org_id,
                token_hash=digest(refresh),
                expires_at=utcnow() + self.refresh_ttl,
            )
        )
        return TokenPair(access, refresh, expires_in, principal)

    # API keys ------------------------------------------------------------------------
    async def create_api_key(
        self,
        caller: Principal,
        name: str,
        scopes: list[str],
        expires_in_days: int | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key for the caller's organisation; the plain key is returned this once only."""
        caller.require_admin()
        try:
            wanted = {Scope(s) for s in scopes}
        except ValueError as exc:
            raise InvalidInput("scopes must be among read, write, admin") from exc
        if not wanted:
            raise InvalidInput("an API key needs at least one scope")
        if not wanted <= caller.scopes:
            raise Forbidden("an API key cannot carry scopes its creator lacks")
        if not name.strip():
            raise InvalidInput("an API key needs a name")
        plain = API_KEY_PREFIX + new_secret()
        expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        async with self.db.transaction() as s:
            key = await ApiKeyRepository(s, caller.org_id).add(
                ApiKey(
                    name=name.strip(),
                    key_hash=digest(plain),
                    scopes=sorted(x.value for x in wanted),
                    created_by=caller.user_id,
                    expires_at=expires,
                )
            )
        return key, plain

    async def list_api_keys(self, caller: Principal) -> list[ApiKey]:
        """The caller's organisation's keys (digests are never shown)."""
        async with self.db.transaction() as s:
            return list(await ApiKeyRepository(s, caller.org_id).list(limit=1000))

    async def get_api_key(self, caller: Principal, key_id: str) -> ApiKey:
        """One key of the caller's organisation."""
        async with self.db.transaction() as s:
            return await ApiKeyRepository(s, caller.org_id).get(key_id)

    async def revoke_api_key(self, caller: Principal, key_id: str) -> ApiKey:
        """Revoke a key of the caller's organisation; revoking twice is a ``Conflict``."""
        caller.require_admin()
        async with self.db.transaction() as s:
            key = await ApiKeyRepository(s, caller.org_id).get(key_id)
            if key.revoked_at is not None:
                raise Conflict(f"API key {key_id} is already revoked")
            key.revoked_at = utcnow()
            return key

    async def authenticate_api_key(self, plain: str) -> Principal:
        """The principal of a live API key."""
        if not plain.startswith(API_KEY_PREFIX):
            raise Unauthenticated("not an iplus API key")
        async with self.db.transaction() as s:
            key = await ApiKeyLookup(s).by_hash(digest(plain))
            if key is None or key.revoked_at is not None:
                raise Unauthenticated("API key is unknown or revoked")
            if key.expires_at is not None and as_utc(key.expires_at) <= utcnow():
                raise Unauthenticated("API key expired")
            org = await OrganisationDirectory(s).get(key.org_id)
            now = utcnow()
            # a write per request would serialise key traffic; a minute's precision is enough
            if key.last_used_at is None or now - as_utc(key.last_used_at) > timedelta(minutes=1):
                key.last_used_at = now
            return Principal(
                org_id=org.id,
                roles=frozenset(Role(r) for r in org.roles),
                scopes=frozenset(Scope(x) for x in key.scopes),
                api_key_id=key.id,
                is_admin=Scope.ADMIN.value in key.scopes,
            )

    # first start ---------------------------------------------------------------------
    async def bootstrap(self, seeds: list[Seed]) -> list[tuple[Seed, str]] | None:
        """On an empty store, create each seed's organisation and administrator in one transaction.

        Returns each seed with its password (generated where the seed had none), or None when
        users already exist. Everything is checked before anything is written, so a failure
        leaves the store empty and the next start tries again.
        """
        if await self.count_users() > 0:
            return None
        prepared: list[tuple[Seed, str, str]] = []
        emails = set()
        for seed in seeds:
            email = seed.email.strip().lower()
            if not _EMAIL.match(email):
                raise InvalidInput(f"{seed.email!r} is not an e-mail address")
            if email in emails:
                raise InvalidInput(f"{email} is named twice in the first accounts")
            emails.add(email)
            password = seed.password or new_secret(12)
            check_strength(password)
            parse_roles(seed.roles)
            prepared.append((seed, password, await asyncio.to_thread(hash_password, password)))
        async with self.db.transaction() as s:
            for seed, _, password_hash in prepared:
                org = await OrganisationDirectory(s).add(
                    Organisation(name=seed.org_name, roles=parse_roles(seed.roles))
                )
                user = await UserDirectory(s).add(
                    User(email=seed.email, name=seed.name, password_hash=password_hash)
                )
                s.add(Membership(org_id=org.id, user_id=user.id, is_admin=True))
            await s.flush()
        return [(seed, password) for seed, password, _ in prepared]

    async def set_password(self, email: str, password: str) -> None:
        """Give a user a new password and end every refresh token and portal session of theirs."""
        check_strength(password)
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self.db.transaction() as s:
            user = await UserDirectory(s).by_email(email)
            if user is None:
                raise NotFound(f"user {email.strip().lower()} not found")
            user.password_hash = password_hash
            await UserDirectory(s).forget_credentials(user.id, utcnow())
