"""``iplus edge``: run the edge agent of one gateway (also ``python -m iplus.cli.edge``)."""

import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from iplus.access.edge import EdgeAgent, load_config
from iplus.core.errors import IplusError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``edge`` command to ``app``."""

    @app.command()
    def edge(
        config: Annotated[
            Path, typer.Option("--config", "-c", help="The agent's TOML configuration.", show_default=False)
        ],
        drain: Annotated[
            bool, typer.Option("--drain", help="Start no sources: forward what is queued, then exit.")
        ] = False,
        until_done: Annotated[
            bool,
            typer.Option("--until-done", help="Exit once every source has ended and the queue is empty."),
        ] = False,
        duration: Annotated[
            float | None, typer.Option(help="Stop after this many seconds.", show_default=False)
        ] = None,
        status_every: Annotated[float, typer.Option(help="Seconds between status lines; 0 for none.")] = 5.0,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
    ) -> None:
        """Run the edge agent: take local readings, process them at the edge, forward them to the platform."""
        _logging(verbose)
        try:
            code = asyncio.run(_run(config, drain, until_done, duration, status_every))
        except (IplusError, OSError) as exc:
            err.print(f"error: {exc.detail if isinstance(exc, IplusError) else exc}", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # before the agent's own handler is in place
            raise typer.Exit(130) from None
        raise typer.Exit(code)


async def _run(path: Path, drain: bool, until_done: bool, duration: float | None, status_every: float) -> int:
    config = load_config(path)
    agent = EdgeAgent(config, sources=[] if drain else None)
    gateway = config.gateway.id
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # Ctrl+C stops cleanly: sources, commit, then forwarder
    if duration is not None:
        loop.call_later(duration, stop.set)
    code = 0
    async with agent:
        _status(gateway, agent)
        reporter = asyncio.create_task(_report(gateway, agent, status_every))
        try:
            if drain or until_done:
                code = await _finish(agent, stop)
            else:
                await agent.serve(stop)
        finally:
            reporter.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    _status(gateway, agent)
    return code


async def _finish(agent: EdgeAgent, stop: asyncio.Event) -> int:
    """Wait for the sources to end and the queue to empty; 1 if stopped before that."""

    async def done() -> None:
        await agent.sources_done()
        await agent.drain()

    work = asyncio.create_task(done())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if work.done():
        work.result()  # a source's failure surfaces here
        return 0
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    err.print(f"stopped with {agent.stats.queued} message(s) still queued", markup=False)
    return 1


async def _report(gateway: str, agent: EdgeAgent, every: float) -> None:
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        _status(gateway, agent)


def _status(gateway: str, agent: EdgeAgent) -> None:
    stamp = time.strftime("%H:%M:%S")
    out.print(f"{stamp} edge {gateway}: {agent.stats.line()}", markup=False)
    sys.stdout.flush()  # scripts and tests read the line while the agent runs


def _logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    if err.is_terminal:
        logging.basicConfig(
            level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)]
        )
    else:  # a service manager's log wants whole lines, not a terminal layout
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Run ``edge`` as a program of its own, without the rest of the platform's CLI."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
