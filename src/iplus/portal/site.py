"""Portal routes: login, logout, a home page per role, and the organisation page."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from iplus import __version__
from iplus.core.errors import Forbidden, IplusError, Unauthenticated
from iplus.core.roles import ROLE_TITLES, Role
from iplus.platform.context import Context
from iplus.portal.csrf import check_csrf, csrf_token
from iplus.security.principal import Principal

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
SESSION_COOKIE = "iplus_session"
SESSION_TTL = timedelta(hours=8)
ROLE_ORDER = [Role.OPERATOR, Role.PROVIDER, Role.USER]


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _safe_next(target: str | None) -> str:
    # only same-site paths: an absolute URL here would be an open redirect
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/portal"


async def _principal(request: Request) -> Principal | None:
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        return None
    principal = await _ctx(request).accounts.session_principal(sid)
    if principal is None:
        request.session.clear()
    return principal


def render(
    request: Request, name: str, principal: Principal | None, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a portal page with the navigation of the principal's roles."""
    roles = [r for r in ROLE_ORDER if principal and r in principal.roles]
    response = templates.TemplateResponse(
        request,
        name,
        {
            "principal": principal,
            "roles": roles,
            "role_titles": ROLE_TITLES,
            "csrf": csrf_token(request.session),
            "version": __version__,
            **values,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


class PortalRoute(APIRoute):
    """A route whose platform errors render as an HTML page instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the stock handler to catch ``IplusError``."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except IplusError as exc:
                return render(
                    request,
                    "error.html",
                    None,
                    status=exc.status,
                    title=exc.title,
                    detail=exc.detail,
                )
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
                return render(
                    request,
                    "error.html",
                    None,
                    status=422,
                    title="Invalid input",
                    detail=f"please fill in: {fields}",
                )

        return guarded


router = APIRouter(include_in_schema=False, route_class=PortalRoute)


@router.get("/")
async def root(request: Request) -> Response:
    """Send people to their home page, or to the login page."""
    return RedirectResponse("/portal" if await _principal(request) else "/login", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return render(request, "login.html", None, next=_safe_next(next), error=None)


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
        principal = await _ctx(request).accounts.authenticate(email, password)
    except (Unauthenticated, Forbidden) as exc:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=_safe_next(next),
            error=exc.detail,
            email=email,
        )
    sid = await _ctx(request).accounts.open_session(principal, SESSION_TTL)
    request.session.clear()  # a fresh session on login defeats session fixation
    request.session["sid"] = sid
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session."""
    check_csrf(request.session, csrf_token)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await _ctx(request).accounts.close_session(sid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/portal")
async def home(request: Request) -> Response:
    """The home page of the principal's first role."""
    principal = await _principal(request)
    if principal is None:
        return _login_redirect(request)
    first = next(r for r in ROLE_ORDER if r in principal.roles)
    return RedirectResponse(f"/portal/{first.value}", status_code=303)


async def _org_page(request: Request, principal: Principal, new_key: str | None = None) -> Response:
    ctx = _ctx(request)
    org = await ctx.accounts.get_organisation(principal, principal.org_id)
    members = await ctx.accounts.list_members(principal.org_id)
    keys = await ctx.accounts.list_api_keys(principal)
    return render(request, "org.html", principal, org=org, members=members, keys=keys, new_key=new_key)


@router.get("/portal/org")
async def organisation(request: Request) -> Response:
    """The organisation page: members and API keys."""
    principal = await _principal(request)
    if principal is None:
        return _login_redirect(request)
    return await _org_page(request, principal)


@router.post("/portal/org/api-keys")
async def create_key(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    scopes: Annotated[list[str], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create an API key and show it in this response only (never stored, not even in the cookie)."""
    check_csrf(request.session, csrf_token)
    principal = await _principal(request)
    if principal is None:
        return _login_redirect(request)
    _, plain = await _ctx(request).accounts.create_api_key(principal, name, scopes)
    return await _org_page(request, principal, new_key=plain)


@router.post("/portal/operator/orgs")
async def create_org(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Operators create organisations from their home page."""
    check_csrf(request.session, csrf_token)
    principal = await _principal(request)
    if principal is None:
        return _login_redirect(request)
    principal.require_role(Role.OPERATOR)
    principal.require_admin()
    await _ctx(request).accounts.create_organisation(name, roles)
    return RedirectResponse("/portal/operator", status_code=303)


@router.get("/portal/{role}")
async def role_home(request: Request, role: str) -> Response:
    """A role's home page with its navigation."""
    principal = await _principal(request)
    if principal is None:
        return _login_redirect(request)
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
    ctx = _ctx(request)
    values: dict[str, Any] = {"role": wanted}
    if wanted is Role.OPERATOR:
        values["orgs"] = await ctx.accounts.list_organisations(principal, limit=1000)
        values["health"] = await ctx.health()
    values["org"] = await ctx.accounts.get_organisation(principal, principal.org_id)
    values["members"] = await ctx.accounts.list_members(principal.org_id)
    return render(request, f"home_{wanted.value}.html", principal, **values)


def mount_portal(app: FastAPI, ctx: Context) -> None:
    """Add the portal's routes, static assets and session cookie to ``app``."""
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
