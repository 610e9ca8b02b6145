"""Portal pages of the knowledge registry: algorithms (describe, try), rules and documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from iplus.core.errors import InvalidInput
from iplus.platform.knowledge.algorithms import Algorithm
from iplus.platform.knowledge.documents import ItemSpec
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf

router = APIRouter(include_in_schema=False, route_class=PortalRoute)


def _fields(algorithm: Algorithm) -> list[dict[str, Any]]:
    """One form field per input, with its type, unit, bounds and default."""
    required = set(algorithm.inputs.get("required", []))
    fields = []
    for name, schema in (algorithm.inputs.get("properties") or {}).items():
        fields.append(
            {
                "name": name,
                "type": schema.get("type"),
                "unit": schema.get("unit", ""),
                "enum": schema.get("enum"),
                "description": schema.get("description", ""),
                "required": name in required,
                "default": schema.get("default"),
                "bounds": _bounds(schema),
            }
        )
    return fields


def _bounds(schema: dict[str, Any]) -> str:
    """The numeric limits of an input in words, e.g. "> 0, ≤ 100000"."""
    marks = (("exclusiveMinimum", ">"), ("minimum", "≥"), ("exclusiveMaximum", "<"), ("maximum", "≤"))
    return ", ".join(f"{mark} {schema[key]}" for key, mark in marks if key in schema)


def _outputs(algorithm: Algorithm) -> dict[str, dict[str, Any]]:
    return dict((algorithm.outputs.get("properties") or {}).items())


def _parse(fields: list[dict[str, Any]], form: dict[str, str]) -> dict[str, Any]:
    """Form text to typed inputs; empty optional fields are left out so that defaults apply."""
    values: dict[str, Any] = {}
    problems = []
    for f in fields:
        raw = form.get(f["name"], "").strip()
        if not raw:
            continue
        if f["type"] in ("number", "integer"):
            try:
                number = float(raw)
            except ValueError:
                problems.append(f"/{f['name']}: {raw!r} is not a number")
                continue
            values[f["name"]] = int(number) if f["type"] == "integer" and number.is_integer() else number
        else:
            values[f["name"]] = raw
    if problems:
        raise InvalidInput("the inputs are not valid", errors=problems)
    return values


@router.get("/portal/knowledge")
async def knowledge_page(
    request: Request,
    principal: Session,
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(pattern="^(rule|document)?$")] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Algorithms the platform offers, and the organisation's rules and documents."""
    ctx = context_of(request)
    items, total = await ctx.knowledge.find(
        principal, text=q or None, kind=kind or None, tag=tag or None, limit=200
    )
    return render(
        request,
        "knowledge.html",
        principal,
        algorithms=ctx.algorithms.latest(),
        items=items,
        total=total,
        filters={"q": q or "", "kind": kind or "", "tag": tag or ""},
        errors=[],
        draft={},
    )


@router.post("/portal/knowledge")
async def add_item(
    request: Request,
    principal: Session,
    kind: Annotated[str, Form(max_length=20)],
    title: Annotated[str, Form(max_length=200)],
    body: Annotated[str, Form(max_length=200_000)] = "",
    when: Annotated[str, Form(max_length=2000)] = "",
    then: Annotated[str, Form(max_length=2000)] = "",
    tags: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Store a rule or a document from the form; problems are shown beside the form."""
    check_csrf(request.session, csrf_token)
    ctx = context_of(request)
    spec = ItemSpec(
        kind=kind,
        title=title,
        body=body,
        content={"when": when.strip(), "then": then.strip()} if kind == "rule" else None,
        tags=tuple(t.strip().lower() for t in tags.split(",") if t.strip()),
    )
    try:
        view = await ctx.knowledge.create(principal, spec)
    except InvalidInput as exc:
        items, total = await ctx.knowledge.find(principal, limit=200)
        return render(
            request,
            "knowledge.html",
            principal,
            status=422,
            algorithms=ctx.algorithms.latest(),
            items=items,
            total=total,
            filters={"q": "", "kind": "", "tag": ""},
            errors=exc.extra.get("errors") or [exc.detail],
            draft={"kind": kind, "title": title, "body": body, "when": when, "then": then, "tags": tags},
        )
    return RedirectResponse(f"/portal/knowledge/{view.item.id}", status_code=303)


@router.get("/portal/knowledge/{item_id}")
async def item_page(request: Request, principal: Session, item_id: str) -> Response:
    """One rule or document, with what it is attached to and its versions."""
    ctx = context_of(request)
    view = await ctx.knowledge.get(principal, item_id)
    revisions = await ctx.knowledge.revisions(principal, item_id)
    return render(request, "knowledge_item.html", principal, view=view, revisions=revisions)


@router.get("/portal/algorithms/{algorithm_id}")
async def algorithm_page(
    request: Request,
    principal: Session,
    algorithm_id: str,
    version: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """An algorithm's inputs and outputs with units, and a form to try it."""
    ctx = context_of(request)
    algorithm = ctx.algorithms.get(algorithm_id, version or None)
    return render(
        request,
        "algorithm.html",
        principal,
        algorithm=algorithm,
        versions=ctx.algorithms.versions(algorithm_id),
        fields=_fields(algorithm),
        outputs=_outputs(algorithm),
        entered={},
        result=None,
        errors=[],
    )


@router.post("/portal/algorithms/{algorithm_id}")
async def try_algorithm(request: Request, principal: Session, algorithm_id: str) -> Response:
    """Run the algorithm on the form's inputs and show the outputs with their units."""
    form = await request.form()
    check_csrf(request.session, str(form.get("csrf_token", "")))
    ctx = context_of(request)
    version = str(form.get("version", "")) or None
    algorithm = ctx.algorithms.get(algorithm_id, version)
    fields = _fields(algorithm)
    entered = {f["name"]: str(form.get(f["name"], ""))[:100] for f in fields}
    result = None
    errors: list[str] = []
    try:
        result = ctx.algorithms.invoke(algorithm.id, _parse(fields, entered), algorithm.version).outputs
    except InvalidInput as exc:
        errors = exc.extra.get("errors") or [exc.detail]
    return render(
        request,
        "algorithm.html",
        principal,
        status=200 if result is not None else 422,
        algorithm=algorithm,
        versions=ctx.algorithms.versions(algorithm_id),
        fields=fields,
        outputs=_outputs(algorithm),
        entered=entered,
        result=result,
        errors=errors,
    )
