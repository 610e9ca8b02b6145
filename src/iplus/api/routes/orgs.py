"""Organisations (tenants) and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.api.schemas import OrgIn, OrgOut, UserIn, UserOut
from iplus.core.errors import Forbidden, NotFound
from iplus.core.roles import Role
from iplus.security.accounts import Member

router = APIRouter(tags=["organisations"])

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def user_out(member: Member) -> UserOut:
    """The API view of a member."""
    u, m = member.user, member.membership
    return UserOut(
        id=u.id,
        email=u.email,
        name=u.name,
        is_active=u.is_active,
        org_id=m.org_id,
        is_admin=m.is_admin,
        created_at=u.created_at,
    )


@router.get("/orgs", response_model=list[OrgOut])
async def list_orgs(ctx: ContextDep, caller: Reader, offset: Offset = 0, limit: Limit = 100) -> list[OrgOut]:
    """All organisations for operators; one's own otherwise."""
    orgs = await ctx.accounts.list_organisations(caller, offset=offset, limit=limit)
    return [OrgOut.model_validate(o) for o in orgs]


@router.post("/orgs", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
async def create_org(ctx: ContextDep, caller: Writer, body: OrgIn) -> OrgOut:
    """Create an organisation (platform operators' administrators only)."""
    caller.require_role(Role.OPERATOR)
    caller.require_admin()
    org = await ctx.accounts.create_organisation(body.name, [r.value for r in body.roles])
    return OrgOut.model_validate(org)


@router.get("/orgs/{org_id}", response_model=OrgOut)
async def get_org(ctx: ContextDep, caller: Reader, org_id: ObjectId) -> OrgOut:
    """One organisation; another tenant's answers 404."""
    return OrgOut.model_validate(await ctx.accounts.get_organisation(caller, org_id))


@router.get("/users", response_model=list[UserOut])
async def list_users(
    ctx: ContextDep, caller: Reader, offset: Offset = 0, limit: Limit = 100
) -> list[UserOut]:
    """Members of the caller's organisation."""
    members = await ctx.accounts.list_members(caller.org_id, offset=offset, limit=limit)
    return [user_out(m) for m in members]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(ctx: ContextDep, caller: Writer, body: UserIn) -> UserOut:
    """Add a user to the caller's organisation; operators may name another organisation."""
    caller.require_admin()
    if caller.user_id is None:
        # a new person gets every scope of a member: a key creating one would outgrow its own scopes
        raise Forbidden("API keys cannot add users: log in as an administrator")
    org_id = body.org_id or caller.org_id
    if org_id != caller.org_id and Role.OPERATOR not in caller.roles:
        raise NotFound(f"organisation {org_id} not found")
    member = await ctx.accounts.create_user(
        org_id=org_id,
        email=body.email,
        name=body.name,
        password=body.password,
        is_admin=body.is_admin,
    )
    return user_out(member)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(ctx: ContextDep, caller: Reader, user_id: ObjectId) -> UserOut:
    """One member of the caller's organisation; anyone else answers 404."""
    return user_out(await ctx.accounts.get_member(caller.org_id, user_id))
