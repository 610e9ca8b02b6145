"""Job files are written on the compute backend: a process of the local pool, Dask (LocalCluster)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from iplus.core.roles import Scope
from iplus.engines.batch.exports import write_rows
from iplus.infra.compute.dask import DaskCompute
from iplus.infra.compute.local import LocalCompute
from iplus.platform.analytics import Analytics, JobSpec
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.batch.conftest import Tenants

SQL = "SELECT device_id, round(sum(value_num), 6) AS total FROM readings GROUP BY 1 ORDER BY 1"


def brute(t: Tenants) -> list[list[str]]:
    totals: dict[str, float] = {}
    for device, _, _, value in t.numbers(t.a.org_id):
        totals[device] = totals.get(device, 0.0) + value
    return [["device_id", "total"], *([d, str(round(v, 6))] for d, v in sorted(totals.items()))]


async def test_writer_runs_in_another_process(tmp_path: Path) -> None:
    pool = LocalCompute("local://?workers=1")
    try:
        pid = await pool.submit(os.getpid)
        size = await pool.submit(write_rows, f"{tmp_path}/x.csv", ["a"], [(1,), (2,)], "csv")
    finally:
        await pool.close()
    assert pid != os.getpid()
    assert size == len("a\n1\n2\n")


async def test_a_job_runs_on_dask(ctx: Context, tenants: Tenants) -> None:
    # the local process pool runs every job of test_api.py (the context's default backend)
    compute = DaskCompute("dask+local://?workers=1")
    analytics = Analytics(ctx.db, ctx.telemetry, compute, ctx.analytics.data_dir)
    caller = Principal(tenants.a.org_id, frozenset(), frozenset({Scope.READ, Scope.WRITE}))
    try:
        job = await analytics.create_job(caller, JobSpec(name="totals", sql=SQL))
        run = await analytics.run_job(caller, job.id)
    finally:
        await compute.close()
    assert run.status == "succeeded", run.error
    path, _ = await analytics.output_file(caller, run.id)
    assert list(csv.reader(io.StringIO(path.read_text()))) == brute(tenants)
