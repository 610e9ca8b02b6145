"""``iplus system``: plan, list, show, run, runs, cancel, rate, report; --json; one-line errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.roles import Role, Scope
from iplus.infra.db.migrate import upgrade
from iplus.security.principal import Principal
from tests.systems.helpers import offer, publish, requirement, task

runner = CliRunner()


async def seed(var_dir: Path) -> None:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    p = await ctx.accounts.create_organisation("Mill Co", ["provider"])
    await ctx.accounts.create_organisation("Buyer", ["user"])
    as_p = Principal(org_id=p.id, roles=frozenset({Role.PROVIDER}), scopes=frozenset(Scope))
    await publish(ctx.offers, as_p, offer("Milling", price=40, time=1))
    await publish(ctx.offers, as_p, offer("Drilling", "drilling", price=10, time=1))
    await ctx.stop()


def test_system_commands(tmp_path: Path) -> None:
    asyncio.run(seed(tmp_path / "var"))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "250"}
    app = build_cli(build_context, build_asgi)

    def cli(*args: str) -> tuple[int, str, str]:
        r = runner.invoke(app, ["system", *args], env=env)
        return r.exit_code, r.stdout, r.stderr

    doc = tmp_path / "req.json"
    doc.write_text(
        json.dumps(requirement(task("drill", "drilling"), task("mill"), budget=100, currency="EUR"))
    )
    code, stdout, stderr = cli("plan", str(doc), "--org", "Buyer", "--json")
    assert code == 0, stderr
    built = json.loads(stdout)
    system_id = built["system"]["id"]
    assert built["plan"]["status"] == "optimal" and set(built["plan"]["choice"]) == {"drill", "mill"}

    code, stdout, _ = cli("list", "--org", "Buyer")
    assert code == 0 and system_id in stdout and "1 system(s)" in stdout
    code, stdout, _ = cli("show", system_id, "--org", "Buyer")
    assert code == 0 and "plan 1: optimal" in stdout and "Milling" in stdout
    assert cli("list", "--org", "Mill Co")[1].count("0 system(s)") == 1

    code, stdout, stderr = cli("run", system_id, "--org", "Buyer", "--seed", "1", "--json")
    assert code == 0, stderr
    run = json.loads(stdout)
    assert [t["state"] for t in run["tasks"]] == ["dispatched", "pending"]
    code, stdout, _ = cli("runs", "--org", "Buyer")
    assert code == 0 and run["id"] in stdout and "1 run(s)" in stdout
    code, stdout, _ = cli("runs", "--org", "Mill Co", run["id"])
    assert code == 0 and "drill" in stdout and "mill " not in stdout

    # a task that never finished cannot be rated: one line on stderr
    code, _, stderr = cli("rate", run["id"], "drill", "5", "--org", "Buyer")
    assert code == 1 and stderr.strip() == "error: task drill is dispatched: rate it once it has finished"
    code, stdout, _ = cli("cancel", run["id"], "--org", "Buyer", "--reason", "test over")
    assert code == 0 and "is cancelled" in stdout
    code, _, stderr = cli("cancel", run["id"], "--org", "Buyer")
    assert code == 1 and "cannot become cancelled" in stderr and len(stderr.strip().splitlines()) == 1

    code, stdout, _ = cli("report", "--org", "Mill Co")
    assert code == 0 and "Milling" in stdout and "provider reputation 0.500" in stdout
    code, _, stderr = cli("report", "--operator", "--org", "Buyer")
    assert code == 1 and stderr.strip() == "error: the operator report is for platform operators"

    # every problem of a bad requirement, on one line
    doc.write_text(json.dumps({"name": "", "graph": {"sequence": []}, "weights": {"speed": 1}}))
    code, _, stderr = cli("plan", str(doc), "--org", "Buyer")
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: the requirement is not valid: ")
    assert "name:" in lines[0] and "graph/sequence:" in lines[0] and "weights/speed:" in lines[0]
    code, _, stderr = cli("plan", str(tmp_path / "missing.json"), "--org", "Buyer")
    assert code == 1 and stderr.startswith("error: cannot read") and len(stderr.strip().splitlines()) == 1
    doc.write_text("{not json")
    code, _, stderr = cli("plan", str(doc), "--org", "Buyer")
    assert code == 1 and "is not JSON" in stderr
    code, _, stderr = cli("run", system_id, "--org", "Buyer", "--choice", "nonsense")
    assert code == 1 and "give PATH=BRANCH" in stderr
