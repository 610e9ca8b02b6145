"""``iplus offer list|stage`` and ``iplus order list``: output, tenancy, one-line errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.roles import Role, Scope
from iplus.infra.db.migrate import upgrade
from iplus.platform.catalog.spec import Window
from iplus.security.principal import Principal
from tests.catalog.helpers import spec

runner = CliRunner()


async def seed(var_dir: Path) -> str:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    p = await ctx.accounts.create_organisation("Mill Co", ["provider"])
    u = await ctx.accounts.create_organisation("Buyer", ["user"])
    as_p = Principal(org_id=p.id, roles=frozenset({Role.PROVIDER}), scopes=frozenset(Scope))
    as_u = Principal(org_id=u.id, roles=frozenset({Role.USER}), scopes=frozenset(Scope))
    live = (await ctx.offers.create(as_p, spec(title="Open milling"))).offer.id
    await ctx.offers.create(as_p, spec(title="Hidden draft"))
    await ctx.offers.move(as_p, live, "published")
    start = datetime(2027, 1, 1, 8, tzinfo=UTC)
    await ctx.orders.place(
        as_u, live, {"material": "Al", "quantity": 2}, Window(start, start + timedelta(hours=4))
    )
    await ctx.stop()
    return live


def test_offer_and_order_lists(tmp_path: Path) -> None:
    live = asyncio.run(seed(tmp_path / "var"))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "250"}
    app = build_cli(build_context, build_asgi)
    seen = runner.invoke(app, ["offer", "list", "--org", "Buyer", "--type", "machining"], env=env)
    assert seen.exit_code == 0, seen.stderr
    assert "Open milling" in seen.stdout and "Hidden draft" not in seen.stdout and "1 offer(s)" in seen.stdout
    mine = runner.invoke(app, ["offer", "list", "--org", "Mill Co", "--mine"], env=env)
    assert "Hidden draft" in mine.stdout and "2 offer(s)" in mine.stdout
    orders = runner.invoke(app, ["order", "list", "--org", "Mill Co", "--role", "provider"], env=env)
    assert orders.exit_code == 0 and "requested" in orders.stdout and "1 order(s)" in orders.stdout
    bad = runner.invoke(app, ["offer", "stage", live, "draft", "--org", "Mill Co"], env=env)
    assert bad.exit_code == 1 and "cannot become draft" in bad.stderr
    ok = runner.invoke(app, ["offer", "stage", live, "suspended", "--org", "Mill Co"], env=env)
    assert ok.exit_code == 0 and "is suspended" in ok.stdout
