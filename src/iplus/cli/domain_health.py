"""``iplus health``: residents, the access log to their personal data and its verification, exports."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from iplus.apps.health.service import care
from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, print_line, table, with_context
from iplus.platform.context import Context

Org = Annotated[str, typer.Option(help="Organisation name (the care provider).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the ``health`` commands to ``app``."""
    health_app = typer.Typer(
        help="Health and elderly care: residents and the access log.", no_args_is_help=True
    )
    app.add_typer(health_app, name="health")

    @health_app.command("residents")
    def residents(org: Org, as_json: JsonFlag = False) -> None:
        """List the residents (labels and devices; no personal data, so nothing is logged)."""

        async def work(ctx: Context) -> list[dict[str, Any]]:
            return await care(ctx).records.residents(await acting_for(ctx, org))

        rows = with_context(build, work)
        if as_json:
            print_line(json.dumps(rows, indent=2))
            return
        t = table("id", "label", "wearable", "cgm", "caregivers")
        for r in rows:
            carers = ", ".join(c["email"] for c in r["caregivers"])
            t.add_row(r["id"], r["label"], r["wearable_id"] or "", r["cgm_id"] or "", carers)
        out.print(t)

    @health_app.command("access-log")
    def access_log(
        org: Org,
        resident: Annotated[str | None, typer.Option(help="Only this resident's record.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
        as_json: JsonFlag = False,
    ) -> None:
        """Who read, changed or exported which record, when and why (newest first)."""

        async def work(ctx: Context) -> tuple[list[dict[str, Any]], int]:
            caller = await acting_for(ctx, org)
            return await care(ctx).records.log.entries(caller, resident_id=resident, limit=limit)

        items, total = with_context(build, work)
        if as_json:
            print_line(json.dumps({"items": items, "total": total}, indent=2))
            return
        t = table("seq", "at (UTC)", "actor", "action", "fields", "resident id", "purpose")
        for e in items:
            t.add_row(
                str(e["seq"]),
                e["at"][:19],
                e["actor"],
                e["action"],
                ",".join(e["fields"]),
                e["resident_id"],
                e["purpose"],
            )
        out.print(t)
        print_line(f"{total} entries in all")

    @health_app.command("verify-log")
    def verify_log(org: Org) -> None:
        """Walk the access log's hash chain; exit 1 when an entry was changed or removed."""

        async def work(ctx: Context) -> dict[str, Any]:
            return await care(ctx).records.log.verify(await acting_for(ctx, org))

        report = with_context(build, work)
        if not report["ok"]:
            fail(f"the access log of {org} does not verify: " + "; ".join(report["problems"]))
        print_line(f"the access log of {org} verifies: {report['entries']} entries, none changed or removed")

    @health_app.command("export")
    def export(
        org: Org,
        resident: Annotated[str, typer.Option(help="The resident's id.")],
        purpose: Annotated[str, typer.Option(help="Why the record is exported (logged).")],
        output: Annotated[
            Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
        ] = None,
    ) -> None:
        """Export everything held about a resident, with its access history; the export is logged."""

        async def work(ctx: Context) -> dict[str, Any]:
            return await care(ctx).records.export(await acting_for(ctx, org), resident, purpose)

        doc = with_context(build, work)
        text = json.dumps(doc, indent=2, ensure_ascii=False)
        if output is None:
            print_line(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
            print_line(f"written to {output}")
