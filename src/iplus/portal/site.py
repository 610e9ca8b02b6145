"""Portal routes: login, logout, a home page per role, and the organisation page."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from iplus.core.errors import Forbidden, Unauthenticated
from iplus.core.roles import Role
from iplus.platform.context import Context
from iplus.portal import analytics, catalog, devices, knowledge, models, rules, simulation, systems, virtual
from iplus.portal.common import (
    HERE,
    ROLE_ORDER,
    SESSION_COOKIE,
    SESSION_TTL,
    PortalRoute,
    Session,
    context_of,
    current_principal,
    render,
    safe_next,
)
from iplus.portal.csrf import check_csrf
from iplus.security.principal import Principal

router = APIRouter(include_in_schema=False, route_class=PortalRoute)


@router.get("/")
async def root(request: Request) -> Response:
    """Send people to their home page, or to the login page."""
    return RedirectResponse("/portal" if await current_principal(request) else "/login", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return render(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/portal",
) -> Response:
    """Check the password and start a session."""
    check_csrf(request.session, csrf_token)
    try:
        principal = await context_of(request).accounts.authenticate(email, password)
    except (Unauthenticated, Forbidden) as exc:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=safe_next(next),
            error=exc.detail,
            email=email,
        )
    sid = await context_of(request).accounts.open_session(principal, SESSION_TTL)
    request.session.clear()  # a fresh session on login defeats session fixation
    request.session["sid"] = sid
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session."""
    check_csrf(request.session, csrf_token)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await context_of(request).accounts.close_session(sid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/portal")
async def home(request: Request, principal: Session) -> Response:
    """The home page of the principal's first role."""
    first = next(r for r in ROLE_ORDER if r in principal.roles)
    return RedirectResponse(f"/portal/{first.value}", status_code=303)


async def _org_page(request: Request, principal: Principal, new_key: str | None = None) -> Response:
    ctx = context_of(request)
    org = await ctx.accounts.get_organisation(principal, principal.org_id)
    members = await ctx.accounts.list_members(principal.org_id)
    keys = await ctx.accounts.list_api_keys(principal)
    return render(request, "org.html", principal, org=org, members=members, keys=keys, new_key=new_key)


@router.get("/portal/org")
async def organisation(request: Request, principal: Session) -> Response:
    """The organisation page: members and API keys."""
    return await _org_page(request, principal)


@router.post("/portal/org/api-keys")
async def create_key(
    request: Request,
    principal: Session,
    name: Annotated[str, Form(max_length=200)],
    scopes: Annotated[list[str], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create an API key and show it in this response only (never stored, not even in the cookie)."""
    check_csrf(request.session, csrf_token)
    _, plain = await context_of(request).accounts.create_api_key(principal, name, scopes)
    return await _org_page(request, principal, new_key=plain)


@router.post("/portal/operator/orgs")
async def create_org(
    request: Request,
    principal: Session,
    name: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Operators create organisations from their home page."""
    check_csrf(request.session, csrf_token)
    principal.require_role(Role.OPERATOR)
    principal.require_admin()
    await context_of(request).accounts.create_organisation(name, roles)
    return RedirectResponse("/portal/operator", status_code=303)


@router.get("/portal/{role}")
async def role_home(request: Request, principal: Session, role: str) -> Response:
    """A role's home page with its navigation."""
    try:
        wanted = Role(role)
    except ValueError:
        return render(
            request,
            "error.html",
            principal,
            status=404,
            title="Not found",
            detail=f"there is no portal page {role!r}",
        )
    principal.require_role(wanted)
    ctx = context_of(request)
    values: dict[str, Any] = {"role": wanted}
    if wanted is Role.OPERATOR:
        values["orgs"] = await ctx.accounts.list_organisations(principal, limit=1000)
        values["health"] = await ctx.health()
    values["org"] = await ctx.accounts.get_organisation(principal, principal.org_id)
    values["members"] = await ctx.accounts.list_members(principal.org_id)
    return render(request, f"home_{wanted.value}.html", principal, **values)


def domain_pages() -> list[ModuleType]:
    """The domain applications' portal modules: every ``iplus.portal.domain_<name>`` with a ``router``."""
    import iplus.portal

    return [
        importlib.import_module(f"iplus.portal.{m.name}")
        for m in sorted(pkgutil.iter_modules(iplus.portal.__path__), key=lambda m: m.name)
        if m.name.startswith("domain_")
    ]


def mount_portal(app: FastAPI, ctx: Context) -> None:
    """Add the portal's routes, static assets and session cookie to ``app``."""
    app.include_router(devices.router)  # before /portal/{role}, which would shadow /portal/devices
    app.include_router(knowledge.router)
    app.include_router(models.router)
    app.include_router(analytics.router)
    app.include_router(rules.router)
    app.include_router(simulation.router)
    app.include_router(virtual.router)
    app.include_router(catalog.router)
    app.include_router(systems.router)
    for page in domain_pages():
        app.include_router(page.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=ctx.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=int(SESSION_TTL.total_seconds()),
        same_site="lax",
        https_only=ctx.settings.env == "production",
    )
