"""``iplus virtual`` (list, show, import virtual things) and ``iplus taxonomy`` (the type tree)."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.platform.context import Context
from iplus.virtual.spec import spec_from_dict
from iplus.virtual.taxonomy import TypeNode, load_taxonomy

KINDS = ("resource", "capability", "product")


def _documents(file: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file} is not YAML: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and "things" in data:
        data = data["things"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(d, dict) for d in items):
        raise InvalidInput(f"{file}: give one thing, a list of things, or {{things: [...]}}")
    return items


def _reasons(exc: InvalidInput) -> InvalidInput:
    reasons = "; ".join(str(e) for e in exc.extra.get("errors", [])[:5])
    return InvalidInput(f"{exc.detail}: {reasons}" if reasons else exc.detail)


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the ``virtual`` and ``taxonomy`` commands to ``app``."""
    virtual_app = typer.Typer(help="Virtual resources, capabilities and products.", no_args_is_help=True)
    app.add_typer(virtual_app, name="virtual")

    @virtual_app.command("list")
    def virtual_list(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        kind: Annotated[str | None, typer.Option(help="resource, capability or product.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    ) -> None:
        """List an organisation's virtual things, newest first."""
        if kind is not None and kind not in KINDS:
            raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}")

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            rows = await ctx.virtual.list_own(caller, kind=kind, limit=limit)
            t = table("id", "kind", "type", "title", "visibility")
            for v in rows:
                t.add_row(v.id, v.kind, v.type, v.title, v.visibility)
            out.print(t)
            if not rows:
                typer.echo("no virtual things", err=True)

        with_context(build, work)

    @virtual_app.command("show")
    def virtual_show(
        thing_id: Annotated[str, typer.Argument(help="The virtual thing's id.")],
        org: Annotated[str, typer.Option(help="Organisation name.")],
        td: Annotated[
            bool, typer.Option("--td", help="Print the W3C WoT Thing Description instead.")
        ] = False,
        base: Annotated[
            str, typer.Option(help="API root used in the TD's links.")
        ] = "http://127.0.0.1:8000/api/v1",
    ) -> None:
        """Show one virtual thing (JSON), or its Thing Description."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            if td:
                doc = await ctx.virtual.td(caller, thing_id, base.rstrip("/"))
            else:
                d = await ctx.virtual.detail(caller, thing_id)
                t = d.thing
                doc = {
                    "id": t.id,
                    "kind": t.kind,
                    "type": t.type,
                    "title": t.title,
                    "visibility": t.visibility,
                    "attributes": t.attributes,
                    "location": None if t.latitude is None else {"lat": t.latitude, "lon": t.longitude},
                    **t.affordances,
                    "links": [{"device_id": link.device_id, "mapping": link.mapping} for link in d.links],
                    "calendar": [
                        {"starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat()}
                        for w in d.windows
                    ],
                }
            typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))

        with_context(build, work)

    @virtual_app.command("import")
    def virtual_import(
        file: Annotated[
            Path, typer.Argument(help="YAML: one thing, a list, or {things: [...]}.", exists=True)
        ],
        org: Annotated[str, typer.Option(help="Organisation name.")],
    ) -> None:
        """Create virtual things from a YAML file (all or none); ``from_device: id`` derives the TD."""
        documents = _documents(file)

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            try:
                specs = []
                for doc in documents:
                    device = doc.get("from_device")
                    spec = spec_from_dict({k: v for k, v in doc.items() if k != "from_device"})
                    if device is not None:
                        spec = await ctx.virtual.ground_on_device(caller, spec, str(device))
                    specs.append(spec)
                made = await ctx.virtual.create_many(caller, specs)
            except InvalidInput as exc:
                raise _reasons(exc) from exc
            for thing in made:
                typer.echo(f"created {thing.kind} {thing.id} {thing.title!r}")

        with_context(build, work)

    @app.command("taxonomy")
    def taxonomy(
        root: Annotated[
            str | None, typer.Argument(help="A type id or path; default: the whole tree.")
        ] = None,
    ) -> None:
        """Print the type taxonomy of virtual things as an indented tree (id, title, FIWARE name)."""
        tax = load_taxonomy()
        try:
            start = tax.get(root) if root else None
        except InvalidInput as exc:
            fail(exc.detail)
        roots = [start.id] if start else list(KINDS)
        nodes: list[TypeNode] = [n for r in roots for n in tax.subtree(r)]
        offset = start.depth if start else 0
        for node in nodes:
            fiware = f"  [{node.fiware}]" if node.fiware else ""
            typer.echo(f"{'  ' * (node.depth - offset)}{node.id.split('/')[-1]}  {node.title}{fiware}")
