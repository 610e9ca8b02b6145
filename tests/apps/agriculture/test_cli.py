"""``iplus agri``: batches, steps, verification that fails after tampering, QR file, fields and decisions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from sqlalchemy import text
from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli import domain_agriculture
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade

runner = CliRunner()


def agri_cli() -> typer.Typer:
    app = build_cli(build_context, build_asgi)
    if not any(g.name == "agri" for g in app.registered_groups):
        domain_agriculture.register(app, build_context)
    return app


async def prepare(var_dir: Path) -> None:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    await ctx.accounts.create_organisation("Green Acres", ["provider"])
    await ctx.stop()


async def tamper(var_dir: Path) -> None:
    ctx = build_context(Settings(var_dir=var_dir))
    async with ctx.db.engine.begin() as conn:
        await conn.execute(text("UPDATE agri_trace_steps SET location = 'elsewhere' WHERE seq = 2"))
    await ctx.stop()


def test_batches_steps_verify_and_qr_from_the_command_line(tmp_path: Path) -> None:
    var = tmp_path / "var"
    asyncio.run(prepare(var))
    env = {"IPLUS_VAR_DIR": str(var), "COLUMNS": "250"}
    app = agri_cli()
    org = ["--org", "Green Acres"]
    made = runner.invoke(
        app,
        [
            "agri",
            "batch-create",
            *org,
            "--product",
            "Apples",
            "--actor",
            "Picker",
            "--quantity",
            "300",
            "--data",
            '{"variety": "Gala"}',
            "--json",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.stderr
    batch = json.loads(made.stdout)
    assert batch["verification"]["ok"] and batch["steps"][0]["data"] == {"variety": "Gala"}
    step = runner.invoke(
        app,
        [
            "agri",
            "step",
            *org,
            "--batch",
            batch["id"],
            "--kind",
            "transport",
            "--actor",
            "Truck",
            "--location",
            "A1",
        ],
        env=env,
    )
    assert step.exit_code == 0 and "step 2 (transport) recorded" in step.stdout
    bad = runner.invoke(
        app, ["agri", "step", *org, "--batch", batch["id"], "--kind", "harvest", "--actor", "X"], env=env
    )
    assert bad.exit_code == 1 and bad.stderr.startswith(
        "error: the step cannot be recorded: /kind: a batch is harvested once"
    )
    ok = runner.invoke(app, ["agri", "verify", *org, "--batch", batch["id"]], env=env)
    assert ok.exit_code == 0 and ok.stdout.startswith("verified: 2 steps")
    shown = runner.invoke(app, ["agri", "batch", *org, "--batch", batch["id"]], env=env)
    assert "verified" in shown.stdout and "transport" in shown.stdout
    listed = runner.invoke(app, ["agri", "batches", *org], env=env)
    assert batch["code"] in listed.stdout
    out = tmp_path / "qr.svg"
    qr = runner.invoke(
        app,
        [
            "agri",
            "qr",
            *org,
            "--batch",
            batch["id"],
            "--base-url",
            "https://farm.example/",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert qr.exit_code == 0 and f"https://farm.example/trace/{batch['code']}" in qr.stdout
    assert out.read_text().startswith("<?xml") and f"/trace/{batch['code']}" in out.read_text()
    asyncio.run(tamper(var))
    broken = runner.invoke(app, ["agri", "verify", *org, "--batch", batch["id"]], env=env)
    assert broken.exit_code == 1
    assert (
        broken.stderr.strip()
        == "error: the record does not verify: step 2: its content does not match its hash: altered"
    )
    fields = runner.invoke(app, ["agri", "fields", *org, "--json"], env=env)
    assert fields.exit_code == 0 and json.loads(fields.stdout) == []
    decisions = runner.invoke(app, ["agri", "decisions", *org], env=env)
    assert decisions.exit_code == 0
    unknown = runner.invoke(app, ["agri", "batch", *org, "--batch", "nope"], env=env)
    assert unknown.exit_code == 1 and "batch nope not found" in unknown.stderr
