"""API keys of the caller's organisation."""

from __future__ import annotations

from fastapi import APIRouter, status

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.api.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.get("", response_model=list[ApiKeyOut])
async def list_keys(ctx: ContextDep, caller: Reader) -> list[ApiKeyOut]:
    """The organisation's keys, without their values."""
    return [ApiKeyOut.model_validate(k) for k in await ctx.accounts.list_api_keys(caller)]


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_key(ctx: ContextDep, caller: Writer, body: ApiKeyIn) -> ApiKeyCreated:
    """Create a key; its value is in this response only."""
    key, plain = await ctx.accounts.create_api_key(
        caller, body.name, [s.value for s in body.scopes], body.expires_in_days
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=plain)


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_key(ctx: ContextDep, caller: Reader, key_id: ObjectId) -> ApiKeyOut:
    """One key of the organisation; another tenant's answers 404."""
    return ApiKeyOut.model_validate(await ctx.accounts.get_api_key(caller, key_id))


@router.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_key(ctx: ContextDep, caller: Writer, key_id: ObjectId) -> ApiKeyOut:
    """Revoke a key; it stops working at once."""
    return ApiKeyOut.model_validate(await ctx.accounts.revoke_api_key(caller, key_id))
