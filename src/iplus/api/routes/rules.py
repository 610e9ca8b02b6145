"""Stream rules as data (JSON or YAML), per organisation; a change runs at once, without a restart."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer

router = APIRouter(tags=["rules"])
MAX_BODY = 1_000_000
_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
        "required": True,
    }
}


async def _body(request: Request) -> tuple[bytes, str]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        from iplus.core.errors import InvalidInput

        raise InvalidInput(f"a rule document is at most {MAX_BODY:,} bytes")
    return raw, request.headers.get("content-type", "")


@router.get("/rules")
async def list_rules(ctx: ContextDep, caller: Reader) -> list[dict[str, Any]]:
    """The organisation's rules, with the error of any rule that could not be loaded."""
    return await ctx.rules.list_rules(caller)


@router.post("/rules", status_code=status.HTTP_201_CREATED, openapi_extra=_BODY)
async def create_rule(ctx: ContextDep, caller: Writer, request: Request) -> dict[str, Any]:
    """Create one rule (JSON, or YAML with ``Content-Type: application/yaml``); 422 lists every problem."""
    raw, kind = await _body(request)
    return await ctx.rules.create(caller, raw, kind)


@router.put("/rules", openapi_extra=_BODY)
async def apply_rules(ctx: ContextDep, caller: Writer, request: Request) -> list[dict[str, Any]]:
    """Create or replace rules by name (a list or ``{rules: [...]}``), all or none."""
    raw, kind = await _body(request)
    return await ctx.rules.apply(caller, raw, kind)


@router.post("/rules/validate", openapi_extra=_BODY)
async def validate_rules(ctx: ContextDep, caller: Reader, request: Request) -> dict[str, Any]:
    """Check a rule document without storing it: every problem with its path."""
    raw, kind = await _body(request)
    problems = await ctx.rules.problems(caller, raw, kind)
    return {"valid": not problems, "problems": problems}


@router.get("/rules/{rule_id}")
async def get_rule(ctx: ContextDep, caller: Reader, rule_id: ObjectId) -> dict[str, Any]:
    """One rule."""
    return await ctx.rules.get_rule(caller, rule_id)


@router.put("/rules/{rule_id}", openapi_extra=_BODY)
async def update_rule(ctx: ContextDep, caller: Writer, rule_id: ObjectId, request: Request) -> dict[str, Any]:
    """Replace a rule; its version grows by one and the engine runs the new version at once."""
    raw, kind = await _body(request)
    return await ctx.rules.update(caller, rule_id, raw, kind)


@router.get("/rules/{rule_id}/versions")
async def rule_versions(ctx: ContextDep, caller: Reader, rule_id: ObjectId) -> list[dict[str, Any]]:
    """Every stored version of a rule, newest first."""
    return await ctx.rules.versions(caller, rule_id)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(ctx: ContextDep, caller: Writer, rule_id: ObjectId) -> Response:
    """Delete a rule; its active alarms are cleared."""
    await ctx.rules.delete(caller, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
