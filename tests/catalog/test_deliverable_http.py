"""Deliverables over HTTP (problem+json, tenancy), on the order page, and from ``iplus order show``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.roles import Role, Scope
from iplus.infra.db.migrate import upgrade
from iplus.platform.catalog.spec import Window
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.api.helpers import assert_problem, tenant
from tests.catalog.helpers import spec
from tests.portal.test_portal_http import _login, _member

START = datetime(2027, 1, 1, 8, tzinfo=UTC)
REPORT: dict[str, Any] = {
    "title": "Inspection report",
    "summary": "All 4 parts within tolerance.",
    "figures": [{"key": "parts", "label": "parts inspected", "value": 4, "unit": "1"}],
    "tables": [{"title": "Deviations", "columns": ["part", "mm"], "rows": [["A", 0.01], ["B", 0.02]]}],
    "series": [
        {"title": "Deviation", "x": [1, 2], "lines": [{"label": "dev", "unit": "mm", "values": [0.01, 0.02]}]}
    ],
}


def _as(org_id: str, role: Role) -> Principal:
    return Principal(org_id=org_id, roles=frozenset({role}), scopes=frozenset(Scope))


async def _order(ctx: Context, p: str, u: str) -> str:
    oid = (await ctx.offers.create(_as(p, Role.PROVIDER), spec(title="Inspection"))).offer.id
    await ctx.offers.move(_as(p, Role.PROVIDER), oid, "published")
    order = await ctx.orders.place(
        _as(u, Role.USER), oid, {"material": "Al", "quantity": 4}, Window(START, START + timedelta(hours=2))
    )
    return order.id


async def test_deliverable_api(ctx: Context, client: httpx.AsyncClient) -> None:
    p = await tenant(ctx, client, "Lab", ["provider"])
    u = await tenant(ctx, client, "Buyer", ["user"])
    x = await tenant(ctx, client, "Bystander", ["user"])
    order_id = await _order(ctx, p.org_id, u.org_id)
    url = f"/api/v1/orders/{order_id}/deliverable"
    assert_problem(await client.get(url, headers=u.auth), 404)  # none yet
    assert_problem(await client.put(url, headers=p.auth, json={"content": REPORT}), 409)  # not in progress
    for to in ("accepted", "in_progress"):
        r = await client.post(f"/api/v1/orders/{order_id}/status", headers=p.auth, json={"status": to})
        assert r.status_code == 200, r.text
    bad = assert_problem(await client.put(url, headers=p.auth, json={"content": {"title": ""}}), 422)
    assert "deliverable/title" in str(bad["errors"])
    assert_problem(await client.put(url, headers=p.auth, json={"content": "report"}), 422)
    assert_problem(await client.put(url, headers=u.auth, json={"content": REPORT}), 409)  # the user cannot
    assert_problem(await client.put(url, headers=x.auth, json={"content": REPORT}), 404)
    r = await client.put(url, headers=p.auth, json={"content": REPORT, "complete": True})
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/orders/{order_id}", headers=u.auth)).json()["status"] == "completed"
    got = await client.get(url, headers=u.auth)
    assert (
        got.status_code == 200
        and got.json()["content"] == REPORT
        and got.json()["title"] == "Inspection report"
    )
    assert_problem(await client.get(url, headers=x.auth), 404)  # a third organisation cannot read it
    assert_problem(await client.get("/api/v1/orders/no%20such/deliverable", headers=u.auth), 422)
    assert_problem(await client.get("/api/v1/orders/nosuchorder/deliverable", headers=u.auth), 404)

    # the order page shows its figures, tables and a chart of its series
    email = await _member(ctx, "Family", ["user"])
    await _login(client, u.email)
    page = await client.get(f"/portal/orders/{order_id}")
    assert page.status_code == 200
    assert 'id="deliverable-figures"' in page.text and "parts inspected" in page.text
    assert "All 4 parts within tolerance." in page.text and "Deviations" in page.text
    assert "deliverable-chart" in page.text and "/static/deliverable.js" in page.text
    client.cookies.clear()
    await _login(client, email)
    assert (await client.get(f"/portal/orders/{order_id}")).status_code == 404


async def _seed_cli(var_dir: Path, report: dict[str, Any] = REPORT) -> str:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    p = await ctx.accounts.create_organisation("Lab", ["provider"])
    u = await ctx.accounts.create_organisation("Buyer", ["user"])
    await ctx.accounts.create_organisation("Bystander", ["user"])
    order_id = await _order(ctx, p.id, u.id)
    provider = _as(p.id, Role.PROVIDER)
    await ctx.orders.move(provider, order_id, "accepted")
    await ctx.orders.move(provider, order_id, "in_progress")
    await ctx.orders.deliverables.attach(provider, order_id, report, complete=True)
    await ctx.stop()
    return order_id


def test_order_show_prints_the_deliverable(tmp_path: Path) -> None:
    order_id = asyncio.run(_seed_cli(tmp_path / "var"))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    app = build_cli(build_context, build_asgi)
    shown = CliRunner().invoke(app, ["order", "show", order_id, "--org", "Buyer"], env=env)
    assert shown.exit_code == 0, shown.stderr
    assert "completed" in shown.stdout and "Inspection report" in shown.stdout
    assert "parts inspected" in shown.stdout and "Deviations" in shown.stdout and "2 points" in shown.stdout
    raw = CliRunner().invoke(app, ["order", "show", order_id, "--org", "Lab", "--json"], env=env)
    assert raw.exit_code == 0 and '"parts inspected"' in raw.stdout
    hidden = CliRunner().invoke(app, ["order", "show", order_id, "--org", "Bystander"], env=env)
    assert hidden.exit_code == 1 and "not found" in hidden.stderr


MALFORMED: dict[str, Any] = {
    "title": "Report",
    "summary": {"text": "not a sentence"},
    "figures": [1, {"label": "l", "value": [1]}],
    "tables": [{"title": "t", "columns": 7, "rows": [1, [1, None]]}],
    "series": [{"x": [1, 2], "lines": [{"label": "a", "values": [1]}]}, "s"],
}
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


async def test_malformed_parts_are_refused_and_strings_are_escaped(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    """A provider cannot break the user's order page: malformed parts are a 422, strings are escaped."""
    p = await tenant(ctx, client, "Lab", ["provider"])
    u = await tenant(ctx, client, "Buyer", ["user"])
    order_id = await _order(ctx, p.org_id, u.org_id)
    for to in ("accepted", "in_progress"):
        await client.post(f"/api/v1/orders/{order_id}/status", headers=p.auth, json={"status": to})
    url = f"/api/v1/orders/{order_id}/deliverable"
    bad = assert_problem(await client.put(url, headers=p.auth, json={"content": MALFORMED}), 422)
    errors = " ".join(bad["errors"])
    for where in (
        "deliverable/summary",
        "deliverable/figures",
        "deliverable/tables/0/columns",
        "deliverable/tables/0/rows",
        "deliverable/series",
    ):
        assert where in errors, where
    assert_problem(await client.get(url, headers=u.auth), 404)  # nothing stored
    hostile = {
        "title": HOSTILE,
        "summary": HOSTILE,
        "figures": [{"key": HOSTILE, "label": HOSTILE, "value": HOSTILE, "unit": HOSTILE}],
        "tables": [{"title": HOSTILE, "columns": [HOSTILE], "rows": [[HOSTILE]]}],
        "series": [{"title": HOSTILE, "x": [1], "lines": [{"label": HOSTILE, "values": [None]}]}],
    }
    r = await client.put(url, headers=p.auth, json={"content": hostile, "complete": True})
    assert r.status_code == 200, r.text
    await _login(client, u.email)
    page = await client.get(f"/portal/orders/{order_id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text


def test_order_show_prints_brackets_as_they_are(tmp_path: Path) -> None:
    """A provider's ``[/x]`` is text, not rich markup: the command prints it instead of stopping."""
    odd = "[/bold] [red]x[/] [/nope]"
    report = {
        "title": odd,
        "summary": odd,
        "figures": [{"label": odd, "value": odd, "unit": odd}],
        "tables": [{"title": odd, "columns": [odd], "rows": [[odd]]}],
    }
    order_id = asyncio.run(_seed_cli(tmp_path / "var", report))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    app = build_cli(build_context, build_asgi)
    shown = CliRunner().invoke(app, ["order", "show", order_id, "--org", "Buyer"], env=env)
    assert shown.exit_code == 0, (shown.stdout, shown.exception)
    assert shown.stdout.count("[/nope]") >= 5
