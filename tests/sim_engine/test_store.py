"""The simulation service on SQLite and PostgreSQL: runs stored with results, cancelled runs marked failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from iplus.core.errors import InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.compute.local import LocalCompute
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation
from iplus.platform.simulation import RunSpec, Simulations
from iplus.security.principal import Principal


async def _no_twins(caller: Principal, device_id: str) -> dict[str, Any]:
    raise NotFound(f"device {device_id} not found")


@pytest.fixture
async def service(database: Database) -> AsyncIterator[tuple[Simulations, Principal, Principal]]:
    async with database.transaction() as s:
        a, b = Organisation(name="A", roles=["user"]), Organisation(name="B", roles=["user"])
        s.add_all([a, b])
    scopes = frozenset({Scope.READ, Scope.WRITE})
    pa = Principal(a.id, frozenset({Role.USER}), scopes)
    pb = Principal(b.id, frozenset({Role.USER}), scopes)
    compute = LocalCompute("local://?workers=1")
    sims = Simulations(database, compute, _no_twins)
    yield sims, pa, pb
    await sims.stop()
    await compute.close()


async def test_runs_are_stored_with_progress_and_results(
    service: tuple[Simulations, Principal, Principal],
) -> None:
    sims, a, b = service
    seen: list[int] = []
    spec = RunSpec(
        "production_line",
        {"horizon": 2000.0, "warmup": 100.0},
        seed=9,
        replications=2,
        sweep={"processing_cv": [0.0, 1.0]},
        name="variability",
    )
    run = await sims.run(a, spec, lambda done, total: seen.append(done))
    assert run.status == "succeeded" and run.done == run.total == 4 and seen == [0, 1, 2, 3, 4]
    results = await sims.results(a, run.id)
    assert [r.params["processing_cv"] for r in results] == [0.0, 1.0]
    # variability costs throughput on a line with finite buffers
    assert results[1].kpis["throughput"]["mean"] < results[0].kpis["throughput"]["mean"]
    other = await sims.run(a, RunSpec("production_line", {"horizon": 2000.0, "warmup": 100.0}, seed=9))
    table = await sims.compare(a, [run.id, other.id])
    assert [r["id"] for r in table["runs"]] == [run.id, other.id]
    assert [r.id for r in await sims.list_runs(a)] == [other.id, run.id]
    assert await sims.list_runs(b) == []
    with pytest.raises(NotFound):
        await sims.get(b, run.id)


async def test_background_run_finishes_and_a_stopped_one_is_marked_failed(
    service: tuple[Simulations, Principal, Principal],
) -> None:
    sims, a, _ = service
    quick = await sims.start(a, RunSpec("queueing_station", {"horizon": 500.0, "warmup": 10.0}))
    assert (await sims.wait(a, quick.id)).status == "succeeded"
    slow = await sims.start(a, RunSpec("queueing_station", {"horizon": 2e5, "warmup": 10.0}, replications=4))
    await sims.stop()
    stopped = await sims.get(a, slow.id)
    assert stopped.status == "failed" and stopped.error == "stopped with the platform"
    assert await sims.results(a, slow.id) == []
    with pytest.raises(InvalidInput, match="has no results"):
        await sims.compare(a, [quick.id, slow.id])
