"""``iplus system``: construct service systems from requirement files, run them, rate tasks, read reports."""

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, out, print_line, table, with_context
from iplus.core.errors import InvalidInput, IplusError
from iplus.platform.context import Context
from iplus.security.principal import Principal

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
Org = Annotated[str, typer.Option(help="Organisation name (whose systems).")]


def _one_line(exc: IplusError) -> IplusError:
    """The error with every listed problem on its one line."""
    problems = "; ".join(str(e) for e in exc.extra.get("errors", []) or [])
    return type(exc)(f"{exc.detail}: {problems}" if problems else exc.detail)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not JSON: {str(exc).splitlines()[0]}") from exc
    except RecursionError as exc:  # Python's reader gives up on a few thousand open brackets
        raise InvalidInput(f"{file} is not JSON (nested too deeply)") from exc


def _choices(pairs: list[str]) -> dict[str, int]:
    out_: dict[str, int] = {}
    for pair in pairs:
        path, sep, branch = pair.rpartition("=")
        if not sep or not path or not branch.strip().isdigit():
            raise InvalidInput(f"--choice {pair!r}: give PATH=BRANCH, e.g. graph/sequence/2/choice=1")
        out_[path] = int(branch)
    return out_


def _show_plan(answer: dict[str, Any]) -> None:
    plan = answer["plan"]
    system = answer["system"]
    print_line(f"system {system['id']} ({system['name']}), plan {plan['number']}: {plan['status']}")
    if plan["status"] in ("optimal", "feasible"):
        agg = plan["aggregate"]
        print_line(
            f"utility {plan['utility']:.4f}; time {agg['time']:g} h, cost {agg['cost']:g}, "
            f"reliability {agg['reliability']:.4f}, availability {agg['availability']:.4f}"
        )
        t = table("task", "offer id", "title", "time h", "cost", "reputation")
        for task_id, o in plan["choice"].items():
            t.add_row(
                task_id,
                o["offer_id"],
                o["title"],
                f"{o['time_h']:g}",
                f"{o['cost']:g}",
                f"{o['reputation']:.3f}",
            )
        out.print(t)
    for line in plan["explanation"]:
        print_line(f"why: {line}")


def _show_run(run: dict[str, Any]) -> None:
    print_line(f"run {run['id']} of system {run['system_id']} (plan {run['plan_number']}): {run['status']}")
    t = table("task", "attempt", "state", "offer id", "order id", "reason")
    for r in run.get("tasks", []):
        t.add_row(r["key"], str(r["attempt"]), r["state"], r["offer_id"], r["order_id"] or "", r["reason"])
    out.print(t)


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the ``system`` commands to ``app``."""
    system_app = typer.Typer(help="Smart service systems: plan, run, rate, report.", no_args_is_help=True)
    app.add_typer(system_app, name="system")

    def run(org: str, work: Callable[[Context, Principal], Awaitable[None]]) -> None:
        async def main(ctx: Context) -> None:
            try:
                await work(ctx, await acting_for(ctx, org))
            except IplusError as exc:
                raise _one_line(exc) from exc

        with_context(build, main)

    @system_app.command("plan")
    def plan(
        file: Annotated[Path, typer.Argument(help="The requirement (JSON file).")],
        org: Org,
        as_json: JsonFlag = False,
    ) -> None:
        """Construct a system from a requirement: candidates, optimal selection, schedule, forecast."""

        async def work(ctx: Context, caller: Principal) -> None:
            answer = await ctx.systems.construct(caller, _read_json(file))
            if as_json:
                print_line(json.dumps(answer))
            else:
                _show_plan(answer)

        run(org, work)

    @system_app.command("list")
    def list_(org: Org, as_json: JsonFlag = False) -> None:
        """The organisation's systems, newest first."""

        async def work(ctx: Context, caller: Principal) -> None:
            items, total = await ctx.systems.list(caller, limit=500)
            if as_json:
                print_line(json.dumps({"items": items, "total": total}))
                return
            t = table("id", "name", "plans", "created")
            for s in items:
                t.add_row(s["id"], s["name"], str(s["plans"]), s["created_at"][:16])
            out.print(t)
            print_line(f"{total} system(s)")

        run(org, work)

    @system_app.command("show")
    def show(
        system: Annotated[str, typer.Argument(help="System id.")],
        org: Org,
        plan_number: Annotated[
            int | None, typer.Option("--plan", min=1, help="Plan number (newest).")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """A system and one of its plans."""

        async def work(ctx: Context, caller: Principal) -> None:
            found = await ctx.systems.get(caller, system)
            number = plan_number or found["plans"][-1]["number"]
            answer = {"system": found, "plan": await ctx.systems.plan(caller, system, number)}
            if as_json:
                print_line(json.dumps(answer))
            else:
                _show_plan(answer)

        run(org, work)

    @system_app.command("run")
    def start(
        system: Annotated[str, typer.Argument(help="System id.")],
        org: Org,
        plan_number: Annotated[
            int | None, typer.Option("--plan", min=1, help="Plan number (newest).")
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Seed for drawing choice branches.")] = None,
        choice: Annotated[
            list[str] | None, typer.Option(help="PATH=BRANCH: a choice's branch (0-based).")
        ] = None,
        inputs: Annotated[
            Path | None, typer.Option(help="JSON file: task id -> order parameter values.")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Start a run of a plan: its first tasks are ordered at once (a running server follows them)."""

        async def work(ctx: Context, caller: Principal) -> None:
            run_id = await ctx.systems.runs.start_run(
                caller,
                system,
                plan_number,
                choices=_choices(choice or []) or None,
                seed=seed,
                inputs=_read_json(inputs) if inputs else None,
            )
            view = await ctx.systems.views.get(caller, run_id)
            if as_json:
                print_line(json.dumps(view))
            else:
                _show_run(view)

        run(org, work)

    @system_app.command("runs")
    def runs(
        org: Org,
        run_id: Annotated[str | None, typer.Argument(help="One run, shown whole.")] = None,
        status: Annotated[str | None, typer.Option(help="running, completed, failed or cancelled.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Runs the organisation sees, or one run with its tasks."""

        async def work(ctx: Context, caller: Principal) -> None:
            if run_id is not None:
                view = await ctx.systems.views.get(caller, run_id)
                if as_json:
                    print_line(json.dumps(view))
                else:
                    _show_run(view)
                return
            items, total = await ctx.systems.views.list(caller, status=status, limit=500)
            if as_json:
                print_line(json.dumps({"items": items, "total": total}))
                return
            t = table("id", "system", "plan", "status", "started")
            for r in items:
                t.add_row(
                    r["id"],
                    r["system_name"] or r["system_id"],
                    str(r["plan_number"]),
                    r["status"],
                    r["started_at"][:16],
                )
            out.print(t)
            print_line(f"{total} run(s)")

        run(org, work)

    @system_app.command("cancel")
    def cancel(
        run_id: Annotated[str, typer.Argument(help="Run id.")],
        org: Org,
        reason: Annotated[str, typer.Option(help="Why.")] = "",
    ) -> None:
        """Cancel a running run: open orders cancelled, finished tasks compensated."""

        async def work(ctx: Context, caller: Principal) -> None:
            await ctx.systems.runs.cancel(caller, run_id, reason)
            print_line(f"run {run_id} is cancelled")

        run(org, work)

    @system_app.command("rate")
    def rate(
        run_id: Annotated[str, typer.Argument(help="Run id.")],
        task: Annotated[str, typer.Argument(help="Task (instance key, e.g. inspect or inspect#2).")],
        stars: Annotated[int, typer.Argument(help="1 to 5.")],
        org: Org,
        comment: Annotated[str, typer.Option(help="A comment.")] = "",
        attempt: Annotated[int | None, typer.Option(help="Which attempt (the newest dispatched).")] = None,
    ) -> None:
        """Rate a finished task of a run, once."""

        async def work(ctx: Context, caller: Principal) -> None:
            done = await ctx.systems.views.rate(caller, run_id, task, stars, comment, attempt)
            print_line(f"task {done['task']} (attempt {done['attempt']}) rated {done['stars']} of 5")

        run(org, work)

    @system_app.command("report")
    def report(
        org: Org,
        operator: Annotated[bool, typer.Option("--operator", help="The operator's report.")] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """The provider's report on its offers, or (--operator) every running system and provider."""

        async def work(ctx: Context, caller: Principal) -> None:
            if operator:
                answer = await ctx.systems.reports.operator(caller)
                if as_json:
                    print_line(json.dumps(answer))
                    return
                t = table("run id", "system", "done", "total", "sla alarms")
                for r in answer["running"]:
                    t.add_row(
                        r["run_id"], r["system_name"], str(r["done"]), str(r["total"]), str(r["sla_alarms"])
                    )
                out.print(t)
                p = table("provider", "executions", "success rate", "reputation")
                for r in answer["providers"]:
                    rate_ = "" if r["success_rate"] is None else f"{r['success_rate']:.0%}"
                    p.add_row(r["name"] or r["org_id"], str(r["executions"]), rate_, f"{r['reputation']:.3f}")
                out.print(p)
                print_line(f"{len(answer['sla_alarms'])} active SLA alarm(s)")
                return
            answer = await ctx.systems.reports.provider(caller)
            if as_json:
                print_line(json.dumps(answer))
                return
            t = table(
                "offer id",
                "title",
                "executions",
                "success rate",
                "actual h",
                "promised h",
                "stars",
                "reputation",
            )
            for r in answer["offers"]:
                t.add_row(
                    r["offer_id"],
                    r["title"],
                    str(r["executions"]),
                    "" if r["success_rate"] is None else f"{r['success_rate']:.0%}",
                    "" if r["mean_actual_time_h"] is None else f"{r['mean_actual_time_h']:.2f}",
                    "" if r["mean_promised_time_h"] is None else f"{r['mean_promised_time_h']:.2f}",
                    "" if r["mean_stars"] is None else f"{r['mean_stars']:.1f}",
                    f"{r['reputation']:.3f}",
                )
            out.print(t)
            print_line(f"provider reputation {answer['reputation']:.3f}")

        run(org, work)
