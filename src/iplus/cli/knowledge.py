"""``iplus algo`` and ``iplus knowledge``: list and run algorithms; keep rules and documents."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.platform.context import Context
from iplus.platform.knowledge.documents import Attachment, ItemSpec


def _with_reasons(exc: InvalidInput) -> InvalidInput:
    reasons = "; ".join(exc.extra.get("errors", [])[:5])
    return InvalidInput(f"{exc.detail}: {reasons}" if reasons else exc.detail)


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where} is not JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"{where} must be a JSON object")
    return value


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the algorithm and knowledge commands to ``app``."""
    algo_app = typer.Typer(help="Registered algorithms: list, describe, run.", no_args_is_help=True)
    knowledge_app = typer.Typer(help="Rules and documents of an organisation.", no_args_is_help=True)
    app.add_typer(algo_app, name="algo")
    app.add_typer(knowledge_app, name="knowledge")

    @algo_app.command("list")
    def algo_list(
        tag: Annotated[str | None, typer.Option(help="Only algorithms with this tag.")] = None,
    ) -> None:
        """The newest version of every algorithm."""

        async def work(ctx: Context) -> None:
            t = table("algorithm", "version", "title", "tags")
            t.columns[0].no_wrap = True
            for a in ctx.algorithms.latest(tag=tag):
                t.add_row(a.id, a.version, a.title, ", ".join(a.tags))
            out.print(t)

        with_context(build, work)

    @algo_app.command("show")
    def algo_show(
        algorithm: Annotated[str, typer.Argument(help="Algorithm id, e.g. queueing.mmc.")],
        version: Annotated[str | None, typer.Option(help="A version; default the newest.")] = None,
    ) -> None:
        """An algorithm's description and its input and output schemas, as JSON."""

        async def work(ctx: Context) -> None:
            described = ctx.algorithms.get(algorithm, version).describe()
            described["versions"] = ctx.algorithms.versions(algorithm)
            out.print_json(json.dumps(described))

        with_context(build, work)

    @algo_app.command("run")
    def algo_run(
        algorithm: Annotated[str, typer.Argument(help="Algorithm id, e.g. queueing.mmc.")],
        inputs: Annotated[str, typer.Option("--json", help="The inputs as a JSON object.")],
        version: Annotated[str | None, typer.Option(help="A version; default the newest.")] = None,
    ) -> None:
        """Run an algorithm and print its outputs as JSON."""
        values = _json_object(inputs, "--json")

        async def work(ctx: Context) -> None:
            try:
                done = ctx.algorithms.invoke(algorithm, values, version)
            except InvalidInput as exc:
                raise _with_reasons(exc) from exc
            out.print_json(
                json.dumps({"algorithm": done.algorithm, "version": done.version, "outputs": done.outputs})
            )

        with_context(build, work)

    @knowledge_app.command("list")
    def knowledge_list(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        q: Annotated[str | None, typer.Option(help="Text in the title or body.")] = None,
        tag: Annotated[str | None, typer.Option(help="Only items with this tag.")] = None,
    ) -> None:
        """An organisation's rules and documents, newest change first."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            views, total = await ctx.knowledge.find(caller, text=q, tag=tag, limit=500)
            t = table("id", "kind", "title", "version", "tags", "attached to")
            for v in views:
                attached = ", ".join(f"{a.kind}:{a.id}" for a in v.attachments)
                t.add_row(
                    v.item.id,
                    v.item.kind,
                    v.item.title,
                    str(v.item.version),
                    ", ".join(v.item.tags),
                    attached,
                )
            out.print(t)
            out.print(f"{total} item(s)")

        with_context(build, work)

    @knowledge_app.command("add")
    def knowledge_add(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        file: Annotated[
            Path,
            typer.Argument(
                help="A YAML or JSON file: kind, title, body or content, tags, attachments.",
                exists=True,
                dir_okay=False,
            ),
        ],
    ) -> None:
        """Store a rule or a document described in a YAML or JSON file."""
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            fail(f"{file} is not YAML or JSON: {str(exc).splitlines()[0]}")
        if not isinstance(raw, dict):
            fail(f"{file} must hold a mapping with kind and title")
        spec = ItemSpec(
            kind=str(raw.get("kind", "")),
            title=str(raw.get("title", "")),
            body=str(raw.get("body", "")),
            format=str(raw.get("format", "markdown")),
            content=raw.get("content"),
            tags=tuple(str(t).lower() for t in raw.get("tags") or ()),
            attachments=tuple(
                Attachment(str(a.get("kind", "")), str(a.get("id", "")))
                for a in raw.get("attachments") or ()
                if isinstance(a, dict)
            ),
        )

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            try:
                view = await ctx.knowledge.create(caller, spec)
            except InvalidInput as exc:
                raise _with_reasons(exc) from exc
            out.print(
                f"stored {view.item.kind} {view.item.title!r} id={view.item.id} version 1", markup=False
            )

        with_context(build, work)
