"""``iplus analytics``: query in three formats, list jobs, run a job, one-line errors."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.config import Settings
from iplus.core.roles import Scope
from iplus.infra.db.migrate import upgrade
from iplus.platform.analytics import JobSpec
from iplus.security.principal import Principal
from tests.batch.conftest import readings_of

runner = CliRunner()
SQL = "SELECT device_id, count(*) AS n FROM readings GROUP BY 1 ORDER BY 1"


async def seed(var_dir: Path) -> Counter[str]:
    ctx = build_context(Settings(var_dir=var_dir))
    await upgrade(ctx.db)
    a = await ctx.accounts.create_organisation("Green Farm", ["user"])
    b = await ctx.accounts.create_organisation("Other Farm", ["user"])
    await ctx.telemetry.open()
    messages = readings_of(a.id, b.id)
    await ctx.telemetry.append(messages)
    await ctx.telemetry.close()
    caller = Principal(a.id, frozenset(), frozenset({Scope.READ, Scope.WRITE}))
    await ctx.analytics.create_job(caller, JobSpec(name="per-device", sql=SQL, format="parquet"))
    await ctx.stop()
    return Counter(m.device_id for m in messages if m.org_id == a.id)


def test_query_jobs_and_run(tmp_path: Path) -> None:
    counts = asyncio.run(seed(tmp_path / "var"))
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var")}
    app = build_cli(build_context, build_asgi)
    result = runner.invoke(
        app, ["analytics", "query", SQL, "--org", "Green Farm", "--format", "csv"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["device_id,n", *(f"{d},{n}" for d, n in sorted(counts.items()))]
    result = runner.invoke(
        app,
        [
            "analytics",
            "query",
            "SELECT count(*) AS n FROM readings WHERE device_id = $1",
            "--org",
            "Green Farm",
            *("--param", "pump-1", "--format", "json"),
        ],
        env=env,
    )
    assert json.loads(result.stdout) == {"columns": ["n"], "rows": [[counts["pump-1"]]]}
    result = runner.invoke(app, ["analytics", "jobs", "--org", "Green Farm"], env=env)
    assert result.exit_code == 0 and "per-device" in result.stdout and "parquet" in result.stdout
    result = runner.invoke(app, ["analytics", "run", "per-device", "--org", "Green Farm"], env=env)
    assert result.exit_code == 0, result.stderr
    assert f"{len(counts)} rows" in result.stdout and ".parquet" in result.stdout
    bad = runner.invoke(app, ["analytics", "query", "SELECT * FROM latest", "--org", "Green Farm"], env=env)
    assert bad.exit_code == 1
    assert len(bad.stderr.strip().splitlines()) == 1 and "not available" in bad.stderr
