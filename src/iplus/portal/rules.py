"""Portal pages for stream rules (editor with validation) and the alarm console (live, filter, ack, clear)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from iplus.core.errors import InvalidInput
from iplus.engines.stream.alarms import AlarmFilter
from iplus.portal.common import PortalRoute, Session, context_of, render
from iplus.portal.csrf import check_csrf
from iplus.security.principal import Principal

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
STATUS = "^(active|raised|acknowledged|cleared)?$"
SEVERITY = "^(critical|major|minor|warning|indeterminate)?$"
EXAMPLE = """# one rule, a list of rules, or {rules: [...]} (YAML or JSON)
name: hot-room
kind: threshold
key: temp
op: ">"
value: 30
clear: 28
severity: major
"""


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json", headers={"Cache-Control": "no-store"})


async def _rules_page(
    request: Request, principal: Principal, text: str, problems: list[dict[str, str]], status: int = 200
) -> Response:
    rows = await context_of(request).rules.list_rules(principal)
    return render(request, "rules.html", principal, rules=rows, text=text, problems=problems, status=status)


@router.get("/portal/rules")
async def rules_page(
    request: Request, principal: Session, edit: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """The rule list and the editor (a stored rule's YAML when ``edit`` is given)."""
    text = EXAMPLE
    if edit:
        rule = await context_of(request).rules.get_rule(principal, edit)
        text = yaml.safe_dump(rule["definition"], sort_keys=False, allow_unicode=True)
    return await _rules_page(request, principal, text, [])


@router.post("/portal/rules/validate")
async def validate(
    request: Request,
    principal: Session,
    text: Annotated[str, Form(max_length=200_000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Every problem of the editor's document (JSON, for the page's script)."""
    check_csrf(request.session, csrf_token)
    problems = await context_of(request).rules.problems(principal, text, "application/yaml")
    return _json({"valid": not problems, "problems": problems})


@router.post("/portal/rules")
async def save(
    request: Request,
    principal: Session,
    text: Annotated[str, Form(max_length=200_000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create or replace the document's rules by name; problems are shown beside the editor."""
    check_csrf(request.session, csrf_token)
    try:
        await context_of(request).rules.apply(principal, text, "application/yaml")
    except InvalidInput as exc:
        problems = exc.extra.get("errors") or [{"path": "(document)", "message": exc.detail}]
        return await _rules_page(request, principal, text, problems, status=422)
    return RedirectResponse("/portal/rules", status_code=303)


@router.post("/portal/rules/{rule_id}/delete")
async def delete(
    request: Request, principal: Session, rule_id: str, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Delete a rule."""
    check_csrf(request.session, csrf_token)
    await context_of(request).rules.delete(principal, rule_id)
    return RedirectResponse("/portal/rules", status_code=303)


@router.get("/portal/alarms")
async def alarm_console(
    request: Request,
    principal: Session,
    status: Annotated[str | None, Query(pattern=STATUS)] = "active",
    severity: Annotated[str | None, Query(pattern=SEVERITY)] = None,
) -> Response:
    """The alarm console: filtered list, live updates, acknowledge and clear."""
    items, total = await context_of(request).rules.alarms(
        principal, AlarmFilter(status or None, severity or None), limit=200
    )
    return render(
        request,
        "alarms.html",
        principal,
        alarms=items,
        total=total,
        filters={"status": status or "", "severity": severity or ""},
    )


@router.get("/portal/alarms/rows")
async def alarm_rows(
    request: Request,
    principal: Session,
    status: Annotated[str | None, Query(pattern=STATUS)] = None,
    severity: Annotated[str | None, Query(pattern=SEVERITY)] = None,
) -> Response:
    """The console's rows as JSON, fetched again when an alarm event arrives."""
    items, total = await context_of(request).rules.alarms(
        principal, AlarmFilter(status or None, severity or None), limit=200
    )
    return _json({"items": items, "total": total})


@router.post("/portal/alarms/{alarm_id}/{verb}")
async def alarm_verb(
    request: Request,
    principal: Session,
    alarm_id: str,
    verb: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Acknowledge or clear an alarm, then back to the console with its filters."""
    check_csrf(request.session, csrf_token)
    rules = context_of(request).rules
    if verb == "ack":
        await rules.acknowledge(principal, alarm_id)
    elif verb == "clear":
        await rules.clear(principal, alarm_id)
    else:
        raise InvalidInput(f"unknown alarm action {verb!r}: use ack or clear")
    query = back if back.startswith("?") and "//" not in back else ""
    return RedirectResponse(f"/portal/alarms{query}", status_code=303)
