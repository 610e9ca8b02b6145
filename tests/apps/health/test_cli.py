"""``iplus health residents|access-log|verify-log|export``: output, logged export, a broken chain exits 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from sqlalchemy import text
from typer.testing import CliRunner

from iplus.app import build_context
from iplus.apps.health.service import care
from iplus.cli import domain_health
from iplus.config import Settings
from iplus.core.roles import Role, Scope
from iplus.infra.db.migrate import upgrade
from iplus.security.principal import Principal

runner = CliRunner()


async def seed(var_dir: Path) -> str:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    home = await ctx.accounts.create_organisation("Sunny Care", ["provider"])
    admin = Principal(
        org_id=home.id, roles=frozenset({Role.PROVIDER}), scopes=frozenset(Scope), is_admin=True
    )
    made = await care(ctx).records.create(
        admin, {"label": "Room 1", "name": "Ada Example", "birth_date": "1940-02-03"}, "admission"
    )
    await ctx.stop()
    return str(made["id"])


async def tamper(var_dir: Path) -> None:
    ctx = build_context(Settings(var_dir=var_dir))
    async with ctx.db.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER health_access_log_no_update"))
        await conn.execute(text("UPDATE health_access_log SET actor = 'nobody' WHERE seq = 1"))
    await ctx.stop()


def test_residents_export_and_the_log(tmp_path: Path) -> None:
    var = tmp_path / "var"
    rid = asyncio.run(seed(var))
    env = {"IPLUS_VAR_DIR": str(var), "COLUMNS": "250"}
    app = typer.Typer()
    domain_health.register(app, build_context)  # the lead registers it in cli/main.py
    listed = runner.invoke(app, ["health", "residents", "--org", "Sunny Care"], env=env)
    assert listed.exit_code == 0, listed.stderr
    assert "Room 1" in listed.stdout and "Ada" not in listed.stdout
    out = tmp_path / "record.json"
    exported = runner.invoke(
        app,
        [
            "health",
            "export",
            "--org",
            "Sunny Care",
            "--resident",
            rid,
            "--purpose",
            "copy for the family",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert exported.exit_code == 0, exported.stderr
    doc = json.loads(out.read_text())
    assert doc["record"]["name"] == "Ada Example" and [e["action"] for e in doc["access_log"]] == [
        "create",
        "export",
    ]
    logged = runner.invoke(app, ["health", "access-log", "--org", "Sunny Care", "--json"], env=env)
    entries = json.loads(logged.stdout)["items"]
    assert [(e["action"], e["actor"], e["purpose"]) for e in entries] == [
        ("export", "host", "copy for the family"),
        ("create", "host", "admission"),
    ]
    ok = runner.invoke(app, ["health", "verify-log", "--org", "Sunny Care"], env=env)
    assert ok.exit_code == 0 and "verifies: 2 entries" in ok.stdout
    no_purpose = runner.invoke(
        app, ["health", "export", "--org", "Sunny Care", "--resident", rid, "--purpose", ""], env=env
    )
    assert no_purpose.exit_code == 1 and "purpose" in no_purpose.stderr
    asyncio.run(tamper(var))
    broken = runner.invoke(app, ["health", "verify-log", "--org", "Sunny Care"], env=env)
    assert broken.exit_code == 1 and "entry 1 was altered" in broken.stderr
