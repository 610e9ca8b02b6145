"""``iplus sim``: scenario kinds, runs and sweeps with a progress bar, stored runs."""

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iplus.apps.registry import register_scenarios
from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, err, fail, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.engines.sim import kinds
from iplus.infra.db.models_sim import SimRun
from iplus.platform.context import Context
from iplus.platform.simulation import RunSpec
from iplus.security.principal import Principal


def _value(text: str) -> Any:
    """A JSON value (number, list, true/false), or the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; each value is read as JSON (``servers=3``, ``service_rates=[1,1.2]``)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {item!r}: write name=value")
        params[key.strip()] = _value(raw.strip())
    return params


def parse_sweep(items: list[str]) -> dict[str, list[Any]] | None:
    """``k=v1,v2,...`` per swept parameter; a JSON list of values (``k=[[1,2],[2,2]]``) for array ones."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        raw = raw.strip()
        if not sep or not key.strip() or not raw:
            raise InvalidInput(f"--sweep {item!r}: write name=value1,value2,...")
        values = _value(raw) if raw.startswith("[") else [_value(v.strip()) for v in raw.split(",")]
        if not isinstance(values, list):
            raise InvalidInput(f"--sweep {item!r}: needs a list of values")
        grid[key.strip()] = values
    return grid or None


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _run_row(run: SimRun) -> list[str]:
    return [
        run.id,
        run.kind,
        run.name,
        run.status,
        f"{run.done}/{run.total}",
        run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        run.error or "",
    ]


async def _show(ctx: Context, caller: Principal, run: SimRun, as_json: bool) -> None:
    """Print a run's status and, per parameter set, its KPI table (or everything as JSON)."""
    results = await ctx.simulations.results(caller, run.id)
    if as_json:
        body = {
            "id": run.id,
            "kind": run.kind,
            "status": run.status,
            "error": run.error,
            "results": [
                {"params": r.params, "kpis": r.kpis, "replications": r.replications} for r in results
            ],
        }
        out.print(json.dumps(body), markup=False, soft_wrap=True)
        return
    out.print(f"run {run.id}: {run.status}" + (f" ({run.error})" if run.error else ""), markup=False)
    swept = list(run.sweep or {})
    for r in results:
        if swept:
            out.print(", ".join(f"{k}={json.dumps(r.params[k])}" for k in swept), markup=False)
        grid = table("kpi", "mean", "95% CI +/-", "sd")
        for key, stat in r.kpis.items():
            grid.add_row(key, _number(stat["mean"]), _number(stat["ci95"]), _number(stat["sd"]))
        out.print(grid)


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the simulation commands to ``app``."""
    sim_app = typer.Typer(help="Simulation engine: scenarios, runs and sweeps.", no_args_is_help=True)
    app.add_typer(sim_app, name="sim")

    @sim_app.command("scenarios")
    def scenarios(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
        """List the scenario kinds and their parameters (unit, default, bounds)."""
        register_scenarios()  # the domains' kinds too: this command does not start the platform
        described = [k.describe() for k in kinds().values()]
        if as_json:
            out.print(json.dumps(described, indent=2), markup=False)
            return
        for scenario in described:
            out.print(f"{scenario['kind']}: {scenario['title']}", markup=False)
            grid = table("parameter", "unit", "default", "description")
            for name, p in scenario["parameters"]["properties"].items():
                grid.add_row(name, p["unit"], json.dumps(p["default"]), p["description"])
            out.print(grid)

    @sim_app.command("run")
    def run(
        kind: Annotated[str, typer.Argument(help="Scenario kind (see `iplus sim scenarios`).")],
        org: Annotated[str, typer.Option(help="Organisation name.")],
        param: Annotated[
            list[str] | None, typer.Option("--param", "-p", help="name=value (JSON value).")
        ] = None,
        sweep: Annotated[
            list[str] | None, typer.Option(help="name=v1,v2,... (every combination runs).")
        ] = None,
        replications: Annotated[int, typer.Option(help="Replications per parameter set.")] = 1,
        seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")] = 1,
        device: Annotated[
            list[str] | None, typer.Option(help="What-if: start from this device's twin (repeatable).")
        ] = None,
        name: Annotated[str, typer.Option(help="A label for the run.")] = "",
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the run and its results as JSON.")
        ] = False,
    ) -> None:
        """Run a scenario (or a sweep) on the compute backend with a progress bar; the run is stored."""
        try:
            spec = RunSpec(
                kind=kind,
                params=parse_params(param or []),
                seed=seed,
                replications=replications,
                sweep=parse_sweep(sweep or []),
                device_ids=device or None,
                name=name,
            )
        except InvalidInput as exc:
            fail(exc.detail)

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            bar = Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=as_json,
            )
            task = bar.add_task("sim", total=None)

            def progress(done: int, total: int) -> None:
                # the bar appears once the run is validated and stored, so a refusal stays one line
                if not bar.live.is_started:
                    bar.start()
                bar.update(task, completed=done, total=total)

            try:
                result = await ctx.simulations.run(caller, spec, progress)
            finally:
                bar.stop()
            await _show(ctx, caller, result, as_json)

        with_context(build, work)

    @sim_app.command("list")
    def list_runs(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    ) -> None:
        """The organisation's stored runs, newest first."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            grid = table("id", "kind", "name", "status", "progress", "created", "error")
            for r in await ctx.simulations.list_runs(caller, limit=limit):
                grid.add_row(*_run_row(r))
            out.print(grid)

        with_context(build, work)

    @sim_app.command("show")
    def show(
        run_id: Annotated[str, typer.Argument(help="Run id (see `iplus sim list`).")],
        org: Annotated[str, typer.Option(help="Organisation name.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """A stored run's status and KPI tables."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            await _show(ctx, caller, await ctx.simulations.get(caller, run_id), as_json)

        with_context(build, work)
