"""Request dependencies: the context and the authenticated caller, with scope checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from iplus.core.errors import Unauthenticated
from iplus.core.roles import Scope
from iplus.platform.context import Context
from iplus.security.accounts import API_KEY_PREFIX
from iplus.security.principal import Principal

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_context(request: Request) -> Context:
    """The platform context the app was built with."""
    ctx: Context = request.app.state.ctx
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


async def get_principal(
    ctx: ContextDep,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller: a bearer JWT, or an API key in ``X-API-Key`` or as the bearer token."""
    if api_key:
        return await ctx.accounts.authenticate_api_key(api_key)
    if token:
        if token.startswith(API_KEY_PREFIX):
            return await ctx.accounts.authenticate_api_key(token)
        return ctx.accounts.signer.verify(token)
    raise Unauthenticated("credentials missing: send a bearer token or an X-API-Key header")


async def get_reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A caller allowed to read."""
    principal.require_scope(Scope.READ)
    return principal


async def get_writer(ctx: ContextDep, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A caller allowed to write; a person's rights are read fresh, not trusted from the token."""
    principal.require_scope(Scope.WRITE)
    if principal.user_id is not None:
        # a disabled or demoted user must not act on a token issued before the change
        principal = await ctx.accounts.principal_for(principal.user_id, principal.org_id)
        principal.require_scope(Scope.WRITE)
    return principal


Reader = Annotated[Principal, Depends(get_reader)]
ObjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="an object id")]
Writer = Annotated[Principal, Depends(get_writer)]
