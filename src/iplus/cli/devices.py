"""``iplus device``: device types from Thing Models, bulk import with credentials out, listing."""

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from iplus.access.registry import parse_device_csv
from iplus.cli.main import BuildContext, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.core.roles import Role, Scope
from iplus.platform.context import Context
from iplus.security.principal import Principal


async def acting_for(ctx: Context, org: str) -> Principal:
    """The command line acts with host-level authority, as an administrator of ``org``."""
    target = await ctx.accounts.organisation_by_name(org)
    return Principal(
        org_id=target.id,
        roles=frozenset(Role(r) for r in target.roles),
        scopes=frozenset(Scope),
        is_admin=True,
    )


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the device commands to ``app``."""
    device_app = typer.Typer(help="Device types and devices.", no_args_is_help=True)
    app.add_typer(device_app, name="device")

    @device_app.command("type-create")
    def type_create(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        name: Annotated[str, typer.Option(help="Device type name, unique in the organisation.")],
        model: Annotated[
            Path, typer.Option(help="W3C WoT Thing Model (JSON file).", exists=True, dir_okay=False)
        ],
        retention_days: Annotated[int | None, typer.Option(help="Keep readings this many days.")] = None,
    ) -> None:
        """Register a device type from a Thing Model file."""
        try:
            document = json.loads(model.read_text())
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"{model} is not JSON: {exc}") from exc

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            try:
                kind = await ctx.registry.create_type(caller, name, document, retention_days)
            except InvalidInput as exc:
                reasons = "; ".join(exc.extra.get("errors", []))
                raise InvalidInput(f"{exc.detail}: {reasons}" if reasons else exc.detail) from exc
            out.print(f"created device type {kind.name!r} id={kind.id}", markup=False)

        with_context(build, work)

    @device_app.command("import")
    def device_import(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        file: Annotated[Path, typer.Option(help="CSV: type,name,id,tags,latitude,longitude", exists=True)],
        credentials: Annotated[Path, typer.Option(help="Where to write device_id,token,type (mode 0600).")],
    ) -> None:
        """Create devices from a CSV file (all or none) and write their tokens to a file."""
        specs = parse_device_csv(file.read_text(encoding="utf-8-sig"))

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            try:
                made = await ctx.registry.create_devices(caller, specs)
            except InvalidInput as exc:
                reasons = "; ".join(exc.extra.get("errors", [])[:5])
                raise InvalidInput(f"{exc.detail}: {reasons}" if reasons else exc.detail) from exc
            credentials.touch(mode=0o600)
            with credentials.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["device_id", "token", "type"])
                writer.writerows([d.id, t, d.type_id] for d, t in made)
            out.print(f"created {len(made)} devices; tokens in {credentials}", markup=False)

        with_context(build, work)

    @device_app.command("list")
    def device_list(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        tag: Annotated[str | None, typer.Option(help="Only devices with this tag.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    ) -> None:
        """List an organisation's devices."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            rows = await ctx.registry.list_devices(caller, tag=tag, limit=limit)
            t = table("id", "name", "type", "tags")
            for d in rows:
                t.add_row(d.id, d.name, d.type_id, ",".join(d.tags))
            out.print(t)
            if not rows:
                print("no devices", file=sys.stderr)

        with_context(build, work)
