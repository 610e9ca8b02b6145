"""Portal pages of the model registry: models with stage, metrics and lineage; a version with its chart."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
ModelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000)]


@router.get("/portal/models")
async def model_list(request: Request, principal: Session) -> Response:
    """Every model's versions with stage, headline metrics and data range."""
    ctx = context_of(request)
    groups = []
    for m in await ctx.models.list_models(principal):
        groups.append(
            {"model": m, "versions": list(reversed(await ctx.models.versions(principal, m["name"])))}
        )
    return render(request, "models.html", principal, groups=groups)


@router.get("/portal/models/{name}/versions/{version}")
async def version_page(request: Request, principal: Session, name: ModelName, version: VersionNo) -> Response:
    """One version: metrics, lineage, the evaluation chart, and stage buttons."""
    row = await context_of(request).models.get(principal, name, version)
    return render(request, "model_version.html", principal, v=row)


@router.get("/portal/models/{name}/versions/{version}/evaluation")
async def version_evaluation(
    request: Request, principal: Session, name: ModelName, version: VersionNo
) -> Response:
    """The version's evaluation series for the chart (JSON)."""
    row = await context_of(request).models.get(principal, name, version)
    return Response(
        orjson.dumps(row.evaluation), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.post("/portal/models/{name}/versions/{version}/stage")
async def set_stage(
    request: Request,
    principal: Session,
    name: ModelName,
    version: VersionNo,
    stage: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Promote or archive a version from its page."""
    check_csrf(request.session, csrf_token)
    await context_of(request).models.set_stage(principal, name, version, stage)
    return RedirectResponse(f"/portal/models/{name}/versions/{version}", status_code=303)
