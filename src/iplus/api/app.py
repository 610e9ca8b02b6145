"""The API application factory."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from fastapi import APIRouter, FastAPI

from iplus import __version__
from iplus.api.problems import install_problem_handlers
from iplus.api.routes import (
    alarms,
    algorithms,
    analytics,
    apikeys,
    auth,
    catalog,
    devices,
    health,
    knowledge,
    models,
    orgs,
    rules,
    simulation,
    stream,
    systems,
    telemetry,
    virtual,
)
from iplus.api.schemas import Problem
from iplus.platform.context import Context
from iplus.security.headers import SecurityHeaders

API_PREFIX = "/api/v1"
_ERRORS = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 422)
}


def domain_routes() -> list[ModuleType]:
    """The domain applications' API modules: every ``iplus.api.routes.domain_<name>`` with a ``router``."""
    import iplus.api.routes

    return [
        importlib.import_module(f"iplus.api.routes.{m.name}")
        for m in sorted(pkgutil.iter_modules(iplus.api.routes.__path__), key=lambda m: m.name)
        if m.name.startswith("domain_")
    ]


def create_app(ctx: Context) -> FastAPI:
    """Build the FastAPI app for ``ctx``: everything under /api/v1, errors as problem+json."""
    app = FastAPI(
        title="iplus",
        version=__version__,
        summary="Internet Plus platform API",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the stock docs pages load scripts from a CDN; the spec is served instead
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=_ERRORS)  # type: ignore[arg-type]
    for module in (
        health,
        auth,
        orgs,
        apikeys,
        devices,
        telemetry,
        stream,
        algorithms,
        knowledge,
        analytics,
        rules,
        alarms,
        models,
        simulation,
        catalog,
        virtual,
        systems,
        *domain_routes(),
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.add_middleware(SecurityHeaders, hsts=ctx.settings.env == "production")
    return app
