"""``iplus virtual list|show|import`` and ``iplus taxonomy``: output, all-or-none import, one-line errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.standards.wot import schema_errors

runner = CliRunner()
THINGS = """
things:
  - kind: capability
    type: drip_irrigation
    title: Drip irrigation, north field
    visibility: public
    attributes: {area_ha: 12.5, crop: maize}
    location: {lat: 45.0, lon: 7.6}
    calendar:
      - {starts_at: "2026-04-01T00:00:00+00:00", ends_at: "2026-10-01T00:00:00+00:00"}
  - kind: resource
    type: charger
    title: Charger 1
    properties: {power: {type: number, unit: kW}}
"""


async def seed(var_dir: Path) -> None:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    await ctx.accounts.create_organisation("Green Farm", ["provider"])
    await ctx.stop()


def test_import_list_show_and_taxonomy(tmp_path: Path) -> None:
    asyncio.run(seed(tmp_path / "var"))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var")}
    app = build_cli(build_context, build_asgi)
    good = tmp_path / "things.yaml"
    good.write_text(THINGS)
    result = runner.invoke(app, ["virtual", "import", str(good), "--org", "Green Farm"], env=env)
    assert result.exit_code == 0, result.stderr
    created = [line.split()[2] for line in result.stdout.splitlines()]
    assert len(created) == 2
    listed = runner.invoke(app, ["virtual", "list", "--org", "Green Farm", "--kind", "capability"], env=env)
    assert listed.exit_code == 0 and "drip_irrigation" in listed.stdout and "charger" not in listed.stdout
    shown = runner.invoke(app, ["virtual", "show", created[0], "--org", "Green Farm"], env=env)
    doc = json.loads(shown.stdout)
    assert doc["attributes"] == {"area_ha": 12.5, "crop": "maize"} and doc["location"] == {
        "lat": 45.0,
        "lon": 7.6,
    }
    td = runner.invoke(app, ["virtual", "show", created[1], "--org", "Green Farm", "--td"], env=env)
    assert schema_errors(json.loads(td.stdout), "td") == []
    # one bad thing: nothing of the file is stored, and the error is one line
    bad = tmp_path / "bad.yaml"
    bad.write_text(THINGS.replace("type: charger", "type: no_such_type"))
    result = runner.invoke(app, ["virtual", "import", str(bad), "--org", "Green Farm"], env=env)
    assert result.exit_code == 1 and "unknown type 'no_such_type'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    listed = runner.invoke(app, ["virtual", "list", "--org", "Green Farm"], env=env)
    assert (
        listed.stdout.count("Green") == 0
        and listed.stdout.count("public") + listed.stdout.count("private") == 2
    )
    tree = runner.invoke(app, ["taxonomy", "machining"], env=env)
    assert tree.stdout.splitlines()[:2] == ["machining  Machining", "  milling  Milling"]
    assert "EVChargingStation" in runner.invoke(app, ["taxonomy"], env=env).stdout
    missing = runner.invoke(app, ["taxonomy", "nope"], env=env)
    assert missing.exit_code == 1 and "unknown type" in missing.stderr
