"""The ``iplus`` command: up, migrate, org, user; the bootstrap hands in how to build the platform."""

import asyncio
import importlib
import pkgutil
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from iplus import __version__
from iplus.config import Settings
from iplus.core.errors import IplusError
from iplus.platform.context import Context

T = TypeVar("T")
BuildContext = Callable[[Settings], Context]
BuildAsgi = Callable[[Context], Any]

# piped into a file or another program there is no terminal to fit: wide lines, nothing cut short
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print one line on stderr and exit with status 1."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(1)


def explain(exc: BaseException) -> str | None:
    """One line for an error an operator can act on, or None for a genuine bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, IplusError):
        return exc.detail
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        return f"setting IPLUS_{where.upper()}: {first.get('msg', 'invalid')}"
    if isinstance(exc, SQLAlchemyError):
        return f"metadata store: {str(exc).splitlines()[0]}"
    if isinstance(exc, OSError):
        return f"cannot reach a backend: {exc}"
    return None


def run_async(coro: Coroutine[Any, Any, T], runner: Callable[..., T] = asyncio.run) -> T:
    """Run a coroutine; errors an operator can act on become one line on stderr and exit 1."""
    try:
        return runner(coro)
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        fail(message)


def with_context(build: BuildContext, work: Callable[[Context], Awaitable[T]]) -> T:
    """Build the context, run ``work`` on it, and always release the backends."""

    async def main() -> T:
        from iplus.infra.db.migrate import upgrade

        ctx = build(Settings())
        try:
            await upgrade(ctx.db)  # idempotent: commands work on a fresh store too
            return await work(ctx)
        finally:
            await ctx.stop()

    return run_async(main())


def build_cli(build: BuildContext, build_asgi: BuildAsgi) -> typer.Typer:
    """The typer application, with the bootstrap's builders closed over."""
    from iplus.cli import (
        accounts,
        analytics,
        catalog,
        devices,
        edge,
        knowledge,
        models,
        rules,
        serve,
        simulate,
        simulation,
        systems,
        virtual,
    )

    app = typer.Typer(
        name="iplus",
        help="iplus, the Internet Plus platform.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    def version_callback(value: bool) -> None:
        if value:
            out.print(f"iplus {__version__}")
            raise typer.Exit()

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                callback=version_callback,
                is_eager=True,
                help="Print the version and exit.",
            ),
        ] = False,
    ) -> None:
        """iplus, the Internet Plus platform."""

    serve.register(app, build, build_asgi)
    accounts.register(app, build)
    devices.register(app, build)
    knowledge.register(app, build)
    models.register(app, build)
    analytics.register(app, build)
    rules.register(app, build)
    edge.register(app)
    simulate.register(app)
    simulation.register(app, build)
    virtual.register(app, build)
    catalog.register(app, build)
    systems.register(app, build)
    # the domain applications' commands: every iplus.cli.domain_<name> module registers its own
    import iplus.cli

    for found in sorted(pkgutil.iter_modules(iplus.cli.__path__), key=lambda m: m.name):
        if found.name.startswith("domain_"):
            importlib.import_module(f"iplus.cli.{found.name}").register(app, build)
    return app


def table(*columns: str) -> Table:
    """A plain rich table; an id column is never wrapped or cut short, whatever the terminal width."""
    t = Table(*columns, show_edge=False, header_style="bold")
    for column in t.columns:
        if str(column.header) == "id" or str(column.header).endswith(" id"):
            # an id is copied into the next command: it must come out whole
            column.no_wrap = True
            column.min_width = 26
    return t


def print_line(text: str) -> None:
    """Print a line to stdout at once (tests and scripts read it while the server runs)."""
    out.print(text, markup=False)
    sys.stdout.flush()
