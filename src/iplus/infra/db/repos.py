"""Repositories; tenancy is enforced here, once: every tenant query is scoped by organisation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.infra.db.models import (
    ApiKey,
    Base,
    Command,
    DeadLetter,
    DesiredProperty,
    Device,
    DeviceType,
    Membership,
    Organisation,
    PortalSession,
    RefreshToken,
    User,
)

M = TypeVar("M", bound=Base)


async def flush_or_conflict(session: AsyncSession, what: str) -> None:
    """Flush pending rows, turning a unique-constraint violation into a ``Conflict``."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc
    except DataError as exc:  # e.g. a NUL byte or an over-long value that PostgreSQL refuses
        raise InvalidInput(f"{what}: a value is not accepted by the store") from exc


class TenantRepository(Generic[M]):
    """Base for tables owned by an organisation: every query it builds filters on ``org_id``."""

    model: ClassVar[type[Base]]
    noun: ClassVar[str] = "object"

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    def _select(self) -> Select[Any]:
        return select(self.model).where(self.model.org_id == self.org_id)  # type: ignore[attr-defined]

    async def get(self, obj_id: str) -> M:
        """The object with this id in this organisation; another tenant's answers ``NotFound``."""
        row = await self.session.scalar(self._select().where(self.model.id == obj_id))  # type: ignore[attr-defined]
        if row is None:
            raise NotFound(f"{self.noun} {obj_id} not found")
        return row  # type: ignore[no-any-return]

    async def list(self, *, offset: int = 0, limit: int = 100) -> Sequence[M]:
        """A page of this organisation's objects, oldest first."""
        stmt = self._select().order_by(self.model.id).offset(offset).limit(limit)  # type: ignore[attr-defined]
        return list((await self.session.scalars(stmt)).all())

    async def add(self, obj: M) -> M:
        """Store a new object in this organisation."""
        obj.org_id = self.org_id  # type: ignore[attr-defined]
        self.session.add(obj)
        await flush_or_conflict(self.session, self.noun)
        return obj


class ApiKeyRepository(TenantRepository[ApiKey]):
    """API keys of one organisation."""

    model = ApiKey
    noun = "API key"


class MemberRepository:
    """Users as seen from one organisation: only its members exist."""

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    def _select(self) -> Select[User, Membership]:
        return (
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == self.org_id)
        )

    async def get(self, user_id: str) -> tuple[User, Membership]:
        """A member and its membership; a user outside the organisation answers ``NotFound``."""
        row = (await self.session.execute(self._select().where(User.id == user_id))).first()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return row[0], row[1]

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[tuple[User, Membership]]:
        """A page of members, oldest first."""
        stmt = self._select().order_by(User.id).offset(offset).limit(limit)
        return [(u, m) for u, m in (await self.session.execute(stmt)).all()]


class UserDirectory:
    """Platform-wide user look-ups that come before any tenant is known (login, sign-up)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_email(self, email: str) -> User | None:
        """The user with this e-mail (case-insensitive), if any."""
        return await self.session.scalar(select(User).where(User.email == email.strip().lower()))

    async def by_id(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        return await self.session.get(User, user_id)

    async def add(self, user: User) -> User:
        """Store a new user; a taken e-mail is a ``Conflict``."""
        user.email = user.email.strip().lower()
        self.session.add(user)
        await flush_or_conflict(self.session, f"user {user.email}")
        return user

    async def memberships(self, user_id: str) -> list[tuple[Membership, Organisation]]:
        """Every organisation the user belongs to, oldest membership first."""
        stmt = (
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.id)
        )
        return [(m, o) for m, o in (await self.session.execute(stmt)).all()]

    async def forget_credentials(self, user_id: str, now: datetime) -> None:
        """End the user's refresh tokens and portal sessions (after a password change)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        await self.session.execute(delete(PortalSession).where(PortalSession.user_id == user_id))

    async def count(self) -> int:
        """How many users exist."""
        return int(await self.session.scalar(select(func.count()).select_from(User)) or 0)


class OrganisationDirectory:
    """Organisations themselves; listing all of them is for platform operators only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, org: Organisation) -> Organisation:
        """Store a new organisation; a taken name is a ``Conflict``."""
        self.session.add(org)
        await flush_or_conflict(self.session, f"organisation {org.name!r}")
        return org

    async def get(self, org_id: str) -> Organisation:
        """The organisation with this id."""
        org = await self.session.get(Organisation, org_id)
        if org is None:
            raise NotFound(f"organisation {org_id} not found")
        return org

    async def by_name(self, name: str) -> Organisation | None:
        """The organisation with this name, if any."""
        return await self.session.scalar(select(Organisation).where(Organisation.name == name))

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[Organisation]:
        """A page of all organisations, oldest first."""
        stmt = select(Organisation).order_by(Organisation.id).offset(offset).limit(limit)
        return list((await self.session.scalars(stmt)).all())


class RefreshTokenStore:
    """Refresh tokens by digest; a user's tokens only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        """Store a new token digest."""
        self.session.add(token)
        await self.session.flush()

    async def consume(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        """Mark a live, unused token used in one statement; (user, org) when it was, else None.

        A single UPDATE ... WHERE used_at IS NULL makes concurrent redemptions race-free on
        every store, SQLite included, where SELECT ... FOR UPDATE locks nothing.
        """
        stmt = (
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.user_id, RefreshToken.org_id)
        )
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])


class SessionStore:
    """Portal sessions by digest of the cookie's random id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: PortalSession) -> None:
        """Store a new session."""
        self.session.add(row)
        await self.session.flush()

    async def live(self, token_hash: str, now: datetime) -> PortalSession | None:
        """The unexpired session with this digest, if any."""
        stmt = select(PortalSession).where(
            PortalSession.token_hash == token_hash, PortalSession.expires_at > now
        )
        return await self.session.scalar(stmt)

    async def remove(self, token_hash: str) -> None:
        """End the session with this digest."""
        await self.session.execute(delete(PortalSession).where(PortalSession.token_hash == token_hash))


class ApiKeyLookup:
    """Finds an API key by digest, before the organisation is known (authentication)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this digest, if any."""
        return await self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


class DeviceTypeRepository(TenantRepository[DeviceType]):
    """Device types of one organisation."""

    model = DeviceType
    noun = "device type"

    async def by_name(self, name: str) -> DeviceType | None:
        """The type with this name in this organisation, if any."""
        found: DeviceType | None = await self.session.scalar(self._select().where(DeviceType.name == name))
        return found

    async def all(self) -> list[DeviceType]:
        """Every type of this organisation (retention sweeps, look-ups by name)."""
        return list((await self.session.scalars(self._select())).all())


class DeviceRepository(TenantRepository[Device]):
    """Devices of one organisation."""

    model = Device
    noun = "device"

    async def search(
        self, *, type_id: str | None, tag: str | None, text: str | None, offset: int, limit: int
    ) -> list[Device]:
        """A page of devices filtered by type, tag and text in the id or name."""
        stmt = self._select()
        if type_id:
            stmt = stmt.where(Device.type_id == type_id)
        if text:
            like = f"%{text.lower()}%"
            stmt = stmt.where(func.lower(Device.name).like(like) | func.lower(Device.id).like(like))
        rows = list((await self.session.scalars(stmt.order_by(Device.id))).all())
        if tag:
            # tags are a JSON list: filtered here so SQLite and PostgreSQL behave the same
            rows = [d for d in rows if tag in (d.tags or [])]
        return rows[offset : offset + limit]

    async def add_many(self, devices: list[Device]) -> None:
        """Store many new devices in this organisation at once."""
        for device in devices:
            device.org_id = self.org_id
        self.session.add_all(devices)
        await flush_or_conflict(self.session, "a device with one of these ids")


class DeviceLookup:
    """Finds a device by id before its organisation is known (device authentication)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, device_id: str) -> Device | None:
        """The device with this id, in any organisation."""
        return await self.session.get(Device, device_id)

    async def type_of(self, device: Device) -> DeviceType:
        """The device's type."""
        found = await self.session.get(DeviceType, device.type_id)
        assert found is not None  # foreign key guarantees it
        return found


class DeadLetterRepository(TenantRepository[DeadLetter]):
    """Refused messages of one organisation, newest first."""

    model = DeadLetter
    noun = "dead letter"

    async def newest(self, *, device_id: str | None, offset: int, limit: int) -> list[DeadLetter]:
        """A page of dead letters, newest first."""
        stmt = self._select()
        if device_id:
            stmt = stmt.where(DeadLetter.device_id == device_id)
        stmt = stmt.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).offset(offset).limit(limit)
        return list((await self.session.scalars(stmt)).all())


class OperatorDeadLetters:
    """An operator's view: its organisation's dead letters and those no organisation owns."""

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    async def newest(self, *, offset: int, limit: int) -> list[DeadLetter]:
        """A page of both, newest first, in one query so that pages neither skip nor repeat."""
        stmt = (
            select(DeadLetter)
            .where((DeadLetter.org_id == self.org_id) | DeadLetter.org_id.is_(None))
            .order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())


class DesiredRepository(TenantRepository[DesiredProperty]):
    """Desired property values of one organisation's devices."""

    model = DesiredProperty
    noun = "desired property"

    async def of_device(self, device_id: str) -> list[DesiredProperty]:
        """Every desired value of one device."""
        rows = await self.session.scalars(self._select().where(DesiredProperty.device_id == device_id))
        return list(rows.all())


class CommandRepository(TenantRepository[Command]):
    """Commands of one organisation."""

    model = Command
    noun = "command"

    async def of_device(self, device_id: str, *, limit: int) -> list[Command]:
        """A device's newest commands."""
        stmt = self._select().where(Command.device_id == device_id).order_by(Command.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())


class CommandLookup:
    """Commands by id across tenants, for acknowledgements arriving from devices."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, command_id: str) -> Command | None:
        """The command with this id, if any."""
        return await self.session.get(Command, command_id)

    async def overdue(self, now: datetime) -> list[Command]:
        """Commands still waiting for their device after their deadline."""
        stmt = select(Command).where(Command.status.in_(("pending", "delivered")), Command.expires_at < now)
        return list((await self.session.scalars(stmt)).all())
