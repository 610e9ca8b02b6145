"""``iplus rule`` and ``iplus alarm``: stream rules from files, alarms listed and acknowledged."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.engines.stream.alarms import AlarmFilter
from iplus.engines.stream.model import check_document, load_document
from iplus.platform.context import Context

OrgOption = Annotated[str, typer.Option(help="Organisation name.")]


def _problems_line(exc: InvalidInput) -> str:
    listed = [f"{p['path']}: {p['message']}" for p in exc.extra.get("errors", [])]
    return "; ".join(listed) if listed else exc.detail


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the rule and alarm commands to ``app``."""
    rule_app = typer.Typer(help="Stream rules (JSON or YAML files).", no_args_is_help=True)
    alarm_app = typer.Typer(help="Alarms raised by stream rules.", no_args_is_help=True)
    app.add_typer(rule_app, name="rule")
    app.add_typer(alarm_app, name="alarm")

    @rule_app.command("validate")
    def rule_validate(
        file: Annotated[
            Path, typer.Argument(help="Rule document (YAML or JSON).", exists=True, dir_okay=False)
        ],
        org: Annotated[str | None, typer.Option(help="Also check against this organisation's types.")] = None,
    ) -> None:
        """Check a rule document; print each problem with its path (exit 1 if any)."""
        raw = file.read_bytes()
        content_type = "application/json" if file.suffix == ".json" else "application/yaml"
        if org is None:
            try:
                rules, problems = check_document(load_document(raw, content_type))
            except InvalidInput as exc:
                fail(_problems_line(exc))
        else:

            async def work(ctx: Context) -> list[dict[str, str]]:
                return await ctx.rules.problems(await acting_for(ctx, org), raw, content_type)

            problems = with_context(build, work)
            rules = []
        for p in problems:
            print(f"{file}: {p['path']}: {p['message']}", file=sys.stderr)
        if problems:
            raise typer.Exit(1)
        out.print(f"{file}: valid" + (f" ({len(rules)} rules)" if rules else ""), markup=False)

    @rule_app.command("apply")
    def rule_apply(
        file: Annotated[
            Path, typer.Argument(help="Rule document (YAML or JSON).", exists=True, dir_okay=False)
        ],
        org: OrgOption,
    ) -> None:
        """Create or replace rules by name, all or none; a running platform picks them up within seconds."""
        raw = file.read_bytes()
        content_type = "application/json" if file.suffix == ".json" else "application/yaml"

        async def work(ctx: Context) -> None:
            try:
                done = await ctx.rules.apply(await acting_for(ctx, org), raw, content_type)
            except InvalidInput as exc:
                raise InvalidInput(_problems_line(exc)) from exc
            for rule in done:
                out.print(f"{rule['change']} {rule['name']} version {rule['version']}", markup=False)

        with_context(build, work)

    @rule_app.command("list")
    def rule_list(org: OrgOption) -> None:
        """List an organisation's rules."""

        async def work(ctx: Context) -> None:
            rows = await ctx.rules.list_rules(await acting_for(ctx, org))
            t = table("id", "name", "kind", "enabled", "version", "updated")
            for r in rows:
                t.add_row(
                    r["id"], r["name"], r["kind"], str(r["enabled"]), str(r["version"]), r["updated_at"][:19]
                )
            out.print(t)
            if not rows:
                print("no rules", file=sys.stderr)

        with_context(build, work)

    @alarm_app.command("list")
    def alarm_list(
        org: OrgOption,
        status: Annotated[str | None, typer.Option(help="active, raised, acknowledged or cleared.")] = None,
        severity: Annotated[
            str | None, typer.Option(help="critical, major, minor, warning, indeterminate.")
        ] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    ) -> None:
        """List alarms, newest first."""
        if status not in (None, "active", "raised", "acknowledged", "cleared"):
            fail("--status must be active, raised, acknowledged or cleared")

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            rows, total = await ctx.rules.alarms(caller, AlarmFilter(status, severity), limit=limit)
            t = table("id", "severity", "status", "rule", "subject", "count", "raised", "detail")
            for a in rows:
                t.add_row(
                    a["id"],
                    a["severity"],
                    a["status"],
                    a["rule"],
                    a["subject"],
                    str(a["count"]),
                    (a["raised_at"] or "")[:19],
                    a["detail"],
                )
            out.print(t)
            print(f"{len(rows)} of {total} alarms", file=sys.stderr)

        with_context(build, work)

    @alarm_app.command("ack")
    def alarm_ack(alarm_id: Annotated[str, typer.Argument(help="Alarm id.")], org: OrgOption) -> None:
        """Acknowledge an alarm."""

        async def work(ctx: Context) -> None:
            alarm = await ctx.rules.acknowledge(await acting_for(ctx, org), alarm_id)
            out.print(f"alarm {alarm['id']} {alarm['status']}", markup=False)

        with_context(build, work)

    @alarm_app.command("clear")
    def alarm_clear(alarm_id: Annotated[str, typer.Argument(help="Alarm id.")], org: OrgOption) -> None:
        """Clear an alarm."""

        async def work(ctx: Context) -> None:
            alarm = await ctx.rules.clear(await acting_for(ctx, org), alarm_id)
            out.print(f"alarm {alarm['id']} {alarm['status']}", markup=False)

        with_context(build, work)
