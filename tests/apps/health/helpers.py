"""Shared pieces of the health tests: a care organisation with staff, in a real metadata store."""

from __future__ import annotations

from dataclasses import dataclass

from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device, DeviceType, Membership, Organisation, User
from iplus.security.principal import Principal

SECRET = "test-secret-key-for-health-records"
RW = frozenset({Scope.READ, Scope.WRITE})


@dataclass
class Home:
    """A care home: an administrator, two carers, a bystander member, and an outside organisation."""

    admin: Principal
    carer: Principal
    carer2: Principal
    member: Principal
    outsider: Principal
    operator: Principal


async def _org(db: Database, name: str, *roles: Role) -> str:
    async with db.transaction() as s:
        o = Organisation(name=name, roles=[r.value for r in roles])
        s.add(o)
        await s.flush()
        return o.id


async def _person(
    db: Database, org_id: str, email: str, roles: frozenset[Role], admin: bool = False
) -> Principal:
    async with db.transaction() as s:
        u = User(email=email, name=email.split("@")[0].title(), password_hash="x")
        s.add(u)
        await s.flush()
        s.add(Membership(org_id=org_id, user_id=u.id, is_admin=admin))
        user_id = u.id
    scopes = RW | ({Scope.ADMIN} if admin else set())
    return Principal(org_id=org_id, roles=roles, scopes=frozenset(scopes), user_id=user_id, is_admin=admin)


async def care_home(db: Database) -> Home:
    """Organisations and people of the tests, with two devices of the home."""
    home = await _org(db, "Sunny Care", Role.PROVIDER)
    other = await _org(db, "Other Care", Role.PROVIDER)
    platform = await _org(db, "Platform", Role.OPERATOR)
    p = frozenset({Role.PROVIDER})
    result = Home(
        admin=await _person(db, home, "admin@sunny.test", p, admin=True),
        carer=await _person(db, home, "carer@sunny.test", p),
        carer2=await _person(db, home, "carer2@sunny.test", p),
        member=await _person(db, home, "cook@sunny.test", p),
        outsider=await _person(db, other, "admin@other.test", p, admin=True),
        operator=await _person(db, platform, "root@platform.test", frozenset({Role.OPERATOR}), admin=True),
    )
    async with db.transaction() as s:
        kind = DeviceType(org_id=home, name="w", thing_model={})
        s.add(kind)
        await s.flush()
        for device_id in ("w-1", "w-2", "cgm-1"):
            s.add(Device(id=device_id, org_id=home, type_id=kind.id, name=device_id, token_hash="x"))
    return result
