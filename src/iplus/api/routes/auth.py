"""Log in (OAuth2 password flow), refresh, and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from iplus.api.deps import ContextDep, Reader
from iplus.api.schemas import MeOut, RefreshIn, TokenOut
from iplus.security.accounts import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])


def _token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        org_id=pair.principal.org_id,
    )


@router.post("/token", response_model=TokenOut)
async def token(
    ctx: ContextDep,
    username: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
    org_id: Annotated[str | None, Form(max_length=26)] = None,
) -> TokenOut:
    """Trade an e-mail and password for an access token and a refresh token."""
    return _token_out(await ctx.accounts.login(username, password, org_id))


@router.post("/refresh", response_model=TokenOut)
async def refresh(ctx: ContextDep, body: RefreshIn) -> TokenOut:
    """Trade a refresh token (single use) for a new pair."""
    return _token_out(await ctx.accounts.refresh(body.refresh_token))


@router.get("/me", response_model=MeOut)
async def me(caller: Reader) -> MeOut:
    """The authenticated caller."""
    return MeOut(
        org_id=caller.org_id,
        user_id=caller.user_id,
        api_key_id=caller.api_key_id,
        roles=sorted(caller.roles),
        scopes=sorted(caller.scopes),
        is_admin=caller.is_admin,
    )
