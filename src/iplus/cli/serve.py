"""``iplus migrate`` and ``iplus up``."""

import asyncio
import gc
from typing import Annotated, Any

import typer

from iplus.apps.demo import DemoTenants, seed_demo, start_demo
from iplus.apps.lifecycle import start_domains, stop_domains
from iplus.cli.main import BuildAsgi, BuildContext, out, print_line, run_async
from iplus.config import Settings
from iplus.core.errors import ConfigurationError, NotFound
from iplus.core.roles import Role
from iplus.infra.broker.address import port_is_free
from iplus.infra.db.migrate import current_revision, upgrade
from iplus.platform.context import Context
from iplus.security.accounts import PLATFORM_ORG, Seed

DEMO_SEEDS = [
    Seed("Demo provider", [Role.PROVIDER.value], "provider@iplus.local", "Demo provider admin"),
    Seed("Demo user", [Role.USER.value], "user@iplus.local", "Demo service user"),
]


async def first_logins(ctx: Context, demo: bool) -> list[tuple[str, str, str]]:
    """On an empty store create the operator (and the demo tenants); return (role, email, password)."""
    settings = ctx.settings
    given = settings.admin_password.get_secret_value() if settings.admin_password else None
    operator = Seed(
        PLATFORM_ORG, [Role.OPERATOR.value], settings.admin_email, "Platform administrator", given
    )
    created = await ctx.accounts.bootstrap([operator, *(DEMO_SEEDS if demo else [])])
    if created is None:
        return []
    return [
        (seed.roles[0], seed.email, "(from IPLUS_ADMIN_PASSWORD)" if seed.password else password)
        for seed, password in created
    ]


async def demo_tenants(ctx: Context) -> DemoTenants:
    """The demo region's organisations, found by the names they were created with."""
    try:
        operator = await ctx.accounts.organisation_by_name(PLATFORM_ORG)
        provider = await ctx.accounts.organisation_by_name(DEMO_SEEDS[0].org_name)
        user = await ctx.accounts.organisation_by_name(DEMO_SEEDS[1].org_name)
    except NotFound as exc:
        raise ConfigurationError(
            f"--demo needs the demo tenants, which are created only on an empty store ({exc.detail}): "
            "start on an empty IPLUS_VAR_DIR, or without --demo"
        ) from exc
    return DemoTenants(operator.id, provider.id, user.id)


def register(app: typer.Typer, build: BuildContext, build_asgi: BuildAsgi) -> None:
    """Add ``migrate`` and ``up`` to ``app``."""

    @app.command()
    def migrate() -> None:
        """Bring the metadata store to the newest schema."""

        async def work() -> None:
            ctx = build(Settings())
            try:
                before = await current_revision(ctx.db)
                await upgrade(ctx.db)
                after = await current_revision(ctx.db)
                out.print(f"metadata store {ctx.db.dialect}: {before or 'empty'} -> {after}", markup=False)
            finally:
                await ctx.stop()

        _run(work)

    @app.command()
    def up(
        host: Annotated[str | None, typer.Option(help="Listen address (IPLUS_HOST).")] = None,
        port: Annotated[int | None, typer.Option(help="Listen port (IPLUS_PORT).")] = None,
        demo: Annotated[
            bool,
            typer.Option(
                "--demo/--no-demo",
                help="On first start, also create demo provider and user tenants.",
            ),
        ] = False,
    ) -> None:
        """Migrate, start the broker and serve the API and the portal."""
        overrides: dict[str, Any] = {}
        if host is not None:
            overrides["host"] = host
        if port is not None:
            overrides["port"] = port

        async def work() -> None:
            import uvicorn

            settings = Settings(**overrides)
            if not port_is_free(settings.host, settings.port):
                raise ConfigurationError(
                    f"port {settings.port} on {settings.host} is taken: "
                    "stop what uses it or choose another with --port or IPLUS_PORT"
                )
            ctx = build(settings)
            stop_demo = asyncio.Event()
            feeds: list[asyncio.Task[None]] = []
            try:
                await upgrade(ctx.db)
                await ctx.start()  # backends first: accounts are made only once the platform can run
                logins = await first_logins(ctx, demo)
                await start_domains(ctx)
                if demo:
                    tenants = await demo_tenants(ctx)
                    await seed_demo(ctx, tenants)
                    feeds = start_demo(ctx, tenants, stop_demo)
                server = uvicorn.Server(
                    uvicorn.Config(
                        build_asgi(ctx),
                        host=settings.host,
                        port=settings.port,
                        log_level="warning",
                        lifespan="off",
                        proxy_headers=False,
                    )
                )
                serving = asyncio.create_task(server.serve())
                # announce only once the socket listens, so the printed address answers at once
                while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
                    await asyncio.sleep(0.02)
                if server.started:
                    _announce(ctx, logins)
                # what start-up built lives as long as the process: a full collection walking those
                # ~250,000 objects paused the event loop for tens of ms (publish-to-SSE p99)
                gc.collect()
                gc.freeze()
                await serving
            finally:
                stop_demo.set()
                for feed in feeds:
                    feed.cancel()
                await asyncio.gather(*feeds, return_exceptions=True)
                await stop_domains(ctx)
                await ctx.stop()

        _run(work, fast_loop=True)


def _announce(ctx: Context, logins: list[tuple[str, str, str]]) -> None:
    s = ctx.settings
    host = f"[{s.host}]" if ":" in s.host else s.host  # IPv6 literals need brackets in URLs
    base = f"http://{host}:{s.port}"
    print_line(f"iplus is serving the portal at {base}/ (API: {base}/api/v1)")
    print_line(f"broker: {ctx.broker.describe()}")
    print_line(f"metadata store: {ctx.db.dialect}; telemetry store: {s.telemetry_store_url}")
    if logins:
        print_line("first logins (shown once, keep them safe):")
        for role, email, password in logins:
            print_line(f"  {role:<9} {email:<24} {password}")
    else:
        print_line("log in with your existing accounts")
    print_line("press Ctrl+C to stop")


def _run(work: Any, fast_loop: bool = False) -> None:
    runner: Any = asyncio.run
    if fast_loop:
        try:  # serve on uvloop where installed: its event loop costs less per request and message
            import uvloop

            runner = uvloop.run
        except ImportError:  # the standard loop works too, only slower
            pass
    try:
        run_async(work(), runner)
    except KeyboardInterrupt:  # Ctrl+C is how an operator stops the platform
        pass
