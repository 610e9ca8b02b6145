"""``iplus agri``: fields and their irrigation decisions, traceability batches, chain verification, QR codes.

Deciding reads the weather station's telemetry and commands a valve through the broker, so it belongs to
the running platform (portal or ``POST /api/v1/agriculture/fields/{id}/decisions``); the commands here
read and write the metadata store only.
"""

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from iplus.apps.agriculture.fields import field_params
from iplus.apps.agriculture.scheduling import IrrigationScheduler, decision_dict
from iplus.apps.agriculture.trace import Record, StepInput, Traceability, qr_document, record_dict
from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, print_line, table, with_context
from iplus.core.errors import InvalidInput, IplusError
from iplus.platform.context import Context

Org = Annotated[str, typer.Option(help="Organisation name.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
Batch = Annotated[str, typer.Option(help="Batch id.")]
Kind = Annotated[str, typer.Option(help="harvest, processing, transport or shelf.")]
Actor = Annotated[str, typer.Option(help="Who did the step.")]
Location = Annotated[str, typer.Option(help="Where.")]
At = Annotated[str, typer.Option(help="When, ISO 8601 with offset (default now).")]
Data = Annotated[str, typer.Option(help="Details as a JSON object.")]


def _one_line(exc: IplusError) -> IplusError:
    problems = "; ".join(str(e) for e in exc.extra.get("errors", []) or [])
    return type(exc)(f"{exc.detail}: {problems}" if problems else exc.detail)


def _step(kind: str, actor: str, location: str, at: str, data: str) -> StepInput:
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError as exc:
            raise InvalidInput(f"--at {at!r} is not an ISO 8601 time") from exc
    try:
        details = json.loads(data) if data else {}
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--data is not JSON: {exc}") from exc
    if not isinstance(details, dict):
        raise InvalidInput("--data must be a JSON object")
    return StepInput(kind, actor, location, when, details)


def _show_record(record: Record, as_json: bool) -> None:
    if as_json:
        print_line(json.dumps(record_dict(record), ensure_ascii=False))
        return
    b, v = record.batch, record.verification()
    print_line(
        f"batch {b.id} {b.product!r} code {b.code}: {b.steps} steps, {'verified' if v.ok else 'BROKEN'}"
    )
    t = table("seq", "step", "at (UTC)", "actor", "location", "hash")
    for s in record.steps:
        t.add_row(str(s.seq), s.kind, s.at.strftime("%Y-%m-%d %H:%M:%S"), s.actor, s.location, s.hash[:16])
    out.print(t)


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the agriculture commands to ``app``."""
    agri = typer.Typer(help="Agriculture: irrigation decisions and traceability.", no_args_is_help=True)
    app.add_typer(agri, name="agri")

    def run(work: Any) -> None:
        async def guarded(ctx: Context) -> None:
            try:
                await work(ctx)
            except IplusError as exc:
                raise _one_line(exc) from exc

        with_context(build, guarded)

    @agri.command("fields")
    def fields(org: Org, as_json: JsonFlag = False) -> None:
        """The organisation's fields with their FAO-56 parameters and newest decision."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            scheduler = IrrigationScheduler(ctx)
            rows: list[dict[str, Any]] = []
            for thing in await scheduler.fields(caller):
                newest = await scheduler.decisions(caller, thing.id, limit=1)
                try:
                    taw: float | None = field_params(thing.attributes).taw
                except InvalidInput:
                    taw = None
                rows.append(
                    {
                        "id": thing.id,
                        "title": thing.title,
                        "attributes": thing.attributes,
                        "taw": taw,
                        "newest": None
                        if not newest
                        else {
                            "day": newest[0].day,
                            "irrigate": newest[0].irrigate,
                            "gross": newest[0].gross_irrigation,
                        },
                    }
                )
            if as_json:
                print_line(json.dumps(rows, ensure_ascii=False))
                return
            t = table("id", "field", "crop", "TAW mm", "newest decision")
            for r in rows:
                n = r["newest"]
                said = (
                    "-"
                    if n is None
                    else f"{n['day']}: " + (f"irrigate {n['gross']:.1f} mm" if n["irrigate"] else "no")
                )
                t.add_row(
                    r["id"], r["title"], str(r["attributes"].get("crop", "")), f"{r['taw'] or 0:.1f}", said
                )
            out.print(t)

        run(work)

    @agri.command("decisions")
    def decisions(
        org: Org,
        field: Annotated[str | None, typer.Option(help="Field id (default: every field).")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        as_json: JsonFlag = False,
    ) -> None:
        """The newest irrigation decisions with their ET0, depletion and valve command."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            scheduler = IrrigationScheduler(ctx)
            found = await scheduler.decisions(caller, field, limit=limit)
            if as_json:
                answers = [decision_dict(d, await scheduler.command_of(caller, d)) for d in found]
                print_line(json.dumps(answers, ensure_ascii=False))
                return
            t = table("id", "day", "field id", "ET0 mm", "Dr mm", "RAW mm", "decision", "command")
            for d in found:
                command = await scheduler.command_of(caller, d)
                t.add_row(
                    d.id,
                    d.day,
                    d.field_id,
                    f"{d.inputs['et0']:.2f}",
                    f"{d.balance['depletion']:.1f}",
                    f"{d.balance['raw']:.1f}",
                    f"irrigate {d.gross_irrigation:.1f} mm" if d.irrigate else "no irrigation",
                    command.status if command else (d.command_error or "-"),
                )
            out.print(t)

        run(work)

    @agri.command("batch-create")
    def batch_create(
        org: Org,
        product: Annotated[str, typer.Option(help="What the batch is.")],
        actor: Actor,
        quantity: Annotated[float | None, typer.Option(help="Amount.")] = None,
        unit: Annotated[str, typer.Option(help="Unit of the amount.")] = "kg",
        field: Annotated[str | None, typer.Option(help="Field id it was harvested on.")] = None,
        location: Location = "",
        at: At = "",
        data: Data = "",
        as_json: JsonFlag = False,
    ) -> None:
        """Start a batch with its harvest (step 1)."""
        step = _step("harvest", actor, location, at, data)

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            record = await Traceability(ctx.db).create_batch(
                caller, product=product, quantity=quantity, unit=unit, field_id=field, harvest=step
            )
            _show_record(record, as_json)

        run(work)

    @agri.command("step")
    def add_step(
        org: Org,
        batch: Batch,
        kind: Kind,
        actor: Actor,
        location: Location = "",
        at: At = "",
        data: Data = "",
    ) -> None:
        """Append a step to a batch's record."""
        step = _step(kind, actor, location, at, data)

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            row = await Traceability(ctx.db).add_step(caller, batch, step)
            print_line(f"step {row.seq} ({row.kind}) recorded, hash {row.hash}")

        run(work)

    @agri.command("batches")
    def batches(org: Org, limit: Annotated[int, typer.Option(min=1, max=1000)] = 50) -> None:
        """The organisation's newest batches."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            t = table("id", "product", "steps", "code")
            for b in await Traceability(ctx.db).batches(caller, limit=limit):
                t.add_row(b.id, b.product, str(b.steps), b.code)
            out.print(t)

        run(work)

    @agri.command("batch")
    def show_batch(org: Org, batch: Batch, as_json: JsonFlag = False) -> None:
        """A batch with its steps and whether its chain verifies."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            _show_record(await Traceability(ctx.db).record(caller, batch), as_json)

        run(work)

    @agri.command("verify")
    def verify(org: Org, batch: Batch) -> None:
        """Recompute a batch's hash chain; exit status 1 when it does not verify."""
        broken: list[str] = []

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            v = await Traceability(ctx.db).verify(caller, batch)
            if v.ok:
                print_line(f"verified: {v.steps} steps, head {v.head}")
            broken.extend(f"step {p['seq']}: {p['reason']}" if p["seq"] else p["reason"] for p in v.problems)

        run(work)
        if broken:
            fail("the record does not verify: " + "; ".join(broken))

    @agri.command("qr")
    def qr(
        org: Org,
        batch: Batch,
        base_url: Annotated[str, typer.Option(help="The portal's public address.")] = "http://127.0.0.1:8000",
        output: Annotated[Path, typer.Option("--out", help="Where to write the SVG.", dir_okay=False)] = Path(
            "batch-qr.svg"
        ),
    ) -> None:
        """Write the batch's QR code (SVG) pointing to its public page."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            record = await Traceability(ctx.db).record(caller, batch)
            url = f"{base_url.rstrip('/')}/trace/{record.batch.code}"
            output.write_text(qr_document(url), encoding="utf-8")
            print_line(f"{output}: QR code of {url}")

        run(work)
