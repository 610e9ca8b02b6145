"""``iplus analytics``: tenant SQL over the telemetry store, saved jobs and their runs."""

import csv
import json
import sys
from typing import Annotated, Any

import typer

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.engines.batch.exports import jsonable
from iplus.platform.context import Context

FORMATS = ("table", "csv", "json")


def _param(text: str) -> Any:
    """A ``--param`` value: JSON when it parses (numbers, true, null), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the analytics commands to ``app``."""
    analytics_app = typer.Typer(help="Analytics SQL, saved jobs and exports.", no_args_is_help=True)
    app.add_typer(analytics_app, name="analytics")

    @analytics_app.command("query")
    def query(
        sql: Annotated[str, typer.Argument(help="One SELECT over the readings view.")],
        org: Annotated[str, typer.Option(help="Organisation name.")],
        param: Annotated[list[str] | None, typer.Option(help="Value for $1, $2, ... (repeat).")] = None,
        format: Annotated[str, typer.Option(help="table, csv or json.")] = "table",
        limit: Annotated[int, typer.Option(help="At most this many rows.")] = 1000,
    ) -> None:
        """Run read-only SQL over the organisation's readings (the telemetry store must be free)."""
        if format not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        params = [_param(p) for p in param or []]

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            await ctx.telemetry.open()
            try:
                result = await ctx.analytics.query(caller, sql, params, limit=limit)
            finally:
                await ctx.telemetry.close()
            rows = [[jsonable(v) for v in r] for r in result.rows]
            if format == "json":
                out.print(json.dumps({"columns": result.columns, "rows": rows}), markup=False)
            elif format == "csv":
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(result.columns)
                writer.writerows(["" if v is None else v for v in r] for r in rows)
            else:
                t = table(*result.columns)
                for r in rows:
                    t.add_row(*("" if v is None else str(v) for v in r))
                out.print(t)
            if result.truncated:
                print(f"stopped at {limit} rows (--limit)", file=sys.stderr)

        with_context(build, work)

    @analytics_app.command("jobs")
    def jobs(org: Annotated[str, typer.Option(help="Organisation name.")]) -> None:
        """List the organisation's saved jobs."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            rows = await ctx.analytics.list_jobs(caller)
            t = table("id", "name", "kind", "format", "schedule", "next run")
            for j in rows:
                nxt = j.next_run_at.isoformat() if j.next_run_at else ""
                t.add_row(j.id, j.name, j.kind, j.format, j.schedule or "", nxt)
            out.print(t)
            if not rows:
                print("no jobs", file=sys.stderr)

        with_context(build, work)

    @analytics_app.command("run")
    def run(
        job: Annotated[str, typer.Argument(help="Job id or name.")],
        org: Annotated[str, typer.Option(help="Organisation name.")],
    ) -> None:
        """Run a job now; prints the run and its output file."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            found = await ctx.analytics.find_job(caller, job)
            await ctx.telemetry.open()
            try:
                done = await ctx.analytics.run_job(caller, found.id)
            finally:
                await ctx.telemetry.close()
            if done.status != "succeeded":
                raise InvalidInput(f"run {done.id} of job {found.name!r} failed: {done.error}")
            path = ctx.analytics.data_dir / (done.output or "")
            out.print(f"run {done.id}: {done.rows} rows in {done.duration_ms:.0f} ms -> {path}", markup=False)

        with_context(build, work)
