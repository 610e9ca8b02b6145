"""What every portal page shares: templates, the session's principal, rendering, error pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from iplus import __version__
from iplus.core.errors import IplusError
from iplus.core.roles import ROLE_TITLES, Role
from iplus.platform.context import Context
from iplus.portal.csrf import csrf_token
from iplus.security.principal import Principal

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
SESSION_COOKIE = "iplus_session"
SESSION_TTL = timedelta(hours=8)
ROLE_ORDER = [Role.OPERATOR, Role.PROVIDER, Role.USER]


def context_of(request: Request) -> Context:
    """The platform context behind the portal."""
    ctx: Context = request.app.state.ctx
    return ctx


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login."""
    # only same-site paths: an absolute URL here would be an open redirect
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/portal"


async def current_principal(request: Request) -> Principal | None:
    """The logged-in principal of this browser session, read fresh; None when logged out."""
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        return None
    principal = await context_of(request).accounts.session_principal(sid)
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


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to the login page, coming back here afterwards."""
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


class LoginRequired(Exception):
    """Raised by ``logged_in`` when the browser has no live session."""


async def logged_in(request: Request) -> Principal:
    """Dependency: the session's principal; without one the route answers with the login page."""
    principal = await current_principal(request)
    if principal is None:
        raise LoginRequired
    return principal


Session = Annotated[Principal, Depends(logged_in)]


class PortalRoute(APIRoute):
    """A route whose platform errors render as an HTML page instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the stock handler to catch ``IplusError``."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if request.url.path.endswith(("/series", "/snapshot", "/stream")):
                    return JSONResponse({"detail": "log in again"}, status_code=401)  # scripts, not people
                return login_redirect(request)
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
