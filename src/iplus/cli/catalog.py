"""``iplus offer`` and ``iplus order``: the service catalog from the command line."""

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, out, table, with_context
from iplus.platform.catalog.finder import OfferQuery
from iplus.platform.context import Context


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the offer and order commands to ``app``."""
    offer_app = typer.Typer(help="Service offers: list, publish, suspend.", no_args_is_help=True)
    order_app = typer.Typer(help="Orders of services.", no_args_is_help=True)
    app.add_typer(offer_app, name="offer")
    app.add_typer(order_app, name="order")

    @offer_app.command("list")
    def offer_list(
        org: Annotated[str, typer.Option(help="Organisation name (whose view of the catalog).")],
        q: Annotated[str | None, typer.Option(help="Words in the title or description.")] = None,
        type_: Annotated[str | None, typer.Option("--type", help="A type; its sub-types match too.")] = None,
        max_price: Annotated[float | None, typer.Option(help="Highest price.")] = None,
        mine: Annotated[
            bool, typer.Option("--mine", help="The organisation's own offers, any stage.")
        ] = False,
        stage: Annotated[str | None, typer.Option(help="draft, published, suspended or retired.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    ) -> None:
        """Offers as the organisation sees them, cheapest first."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            query = OfferQuery(text=q, type=type_, max_price=max_price, mine=mine, stage=stage, limit=limit)
            views, total = await ctx.offers.search(caller, query)
            t = table("id", "title", "type", "stage", "version", "price", "time h", "reliability")
            t.columns[0].no_wrap = True
            for v in views:
                t.add_row(
                    v.offer.id,
                    v.version.title,
                    v.version.capability_type,
                    v.offer.stage,
                    str(v.version.version),
                    f"{v.version.price:g} {v.version.currency}",
                    f"{v.version.time_h:g}",
                    f"{v.version.reliability:g}",
                )
            out.print(t)
            out.print(f"{total} offer(s)")

        with_context(build, work)

    @offer_app.command("stage")
    def offer_stage(
        org: Annotated[str, typer.Option(help="Organisation name (the provider, or an operator).")],
        offer: Annotated[str, typer.Argument(help="Offer id.")],
        to: Annotated[str, typer.Argument(help="published, suspended or retired.")],
        reason: Annotated[str, typer.Option(help="Why (operators must say).")] = "",
    ) -> None:
        """Move an offer through its life cycle."""

        async def work(ctx: Context) -> None:
            view = await ctx.offers.move(await acting_for(ctx, org), offer, to, reason)
            out.print(f"offer {view.offer.id} is {view.offer.stage}")

        with_context(build, work)

    @order_app.command("list")
    def order_list(
        org: Annotated[str, typer.Option(help="Organisation name.")],
        role: Annotated[str | None, typer.Option(help="user (placed) or provider (received).")] = None,
        status: Annotated[str | None, typer.Option(help="Only orders in this status.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    ) -> None:
        """Orders the organisation placed or received, newest first."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            orders, total = await ctx.orders.list(caller, role=role, status=status, limit=limit)
            t = table("id", "offer", "status", "progress", "window start", "window end")
            t.columns[0].no_wrap = True
            for o in orders:
                t.add_row(
                    o.id,
                    f"{o.offer_id} v{o.offer_version}",
                    o.status,
                    "" if o.progress is None else f"{o.progress:g} %",
                    o.window_start.isoformat(timespec="minutes"),
                    o.window_end.isoformat(timespec="minutes"),
                )
            out.print(t)
            out.print(f"{total} order(s)")

        with_context(build, work)

    @order_app.command("show")
    def order_show(
        org: Annotated[str, typer.Option(help="Organisation name (the ordering or the providing one).")],
        order: Annotated[str, typer.Argument(help="Order id.")],
        as_json: Annotated[bool, typer.Option("--json", help="The deliverable as JSON only.")] = False,
    ) -> None:
        """One order: status, history and the provider's deliverable."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            found = await ctx.orders.get(caller, order)
            deliverable = await ctx.orders.deliverables.find(caller, order)
            if as_json:
                content = deliverable.content if deliverable else None
                out.print(json.dumps(content, indent=2, ensure_ascii=False), markup=False)
                return
            out.print(
                f"order {found.id}: {found.status} (offer {found.offer_id} v{found.offer_version}), "
                f"window {found.window_start.isoformat(timespec='minutes')} - "
                f"{found.window_end.isoformat(timespec='minutes')}",
                markup=False,
            )
            out.print(f"parameters: {json.dumps(found.parameters, ensure_ascii=False)}", markup=False)
            for h in found.history:
                out.print(
                    f"  {h['at'][:19]}  {h['status']:<11} by {h['by']}  {h.get('reason', '')}", markup=False
                )
            if deliverable is None:
                out.print("no deliverable")
                return
            _print_deliverable(deliverable.title, deliverable.content)

        with_context(build, work)


def _plain(value: Any) -> Text:
    """A cell shown as it is: a provider's text is not rich markup (``[/x]`` would stop the command)."""
    return Text("-" if value is None else str(value))


def _print_deliverable(title: str, doc: dict[str, Any]) -> None:
    """The deliverable's key figures and tables; its series and the rest as JSON."""
    out.print(f"deliverable: {title}", markup=False)
    if doc.get("summary"):
        out.print(str(doc["summary"]), markup=False)
    figures = doc.get("figures") or []
    if figures:
        t = table("figure", "value", "unit")
        for f in figures:
            t.add_row(_plain(f.get("label", "")), _plain(f.get("value")), _plain(f.get("unit") or ""))
        out.print(t)
    for part in doc.get("tables") or []:
        t = table()
        for c in part.get("columns", []):
            t.add_column(_plain(c), header_style="bold")
        t.title = _plain(part.get("title", ""))
        for row in part.get("rows", []):
            t.add_row(*[_plain(v) for v in row])
        out.print(t)
    for series in doc.get("series") or []:
        lines = ", ".join(str(line.get("label")) for line in series.get("lines", []))
        out.print(
            f"series {series.get('title', '')}: {len(series.get('x', []))} points ({lines})", markup=False
        )
