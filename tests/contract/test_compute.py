"""One contract suite for every compute adapter: the local process pool and Dask (on a LocalCluster)."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from iplus.app import compute_for
from iplus.core.errors import ConfigurationError, NotReady
from iplus.engines.sim import execute, plan, run_inline
from iplus.infra.compute.dask import DaskCompute, parse_dask_url
from iplus.infra.compute.local import LocalCompute
from iplus.infra.ports import Compute

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dask_local() -> AsyncIterator[DaskCompute]:
    """One in-process LocalCluster with two worker processes for the whole module (it takes seconds)."""
    compute = DaskCompute("dask+local://?workers=2")
    yield compute
    await compute.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def local_pool() -> AsyncIterator[LocalCompute]:
    """The default process pool with two workers."""
    compute = LocalCompute("local://?workers=2")
    yield compute
    await compute.close()


@pytest.fixture(params=["local", "dask"])
def compute(request: pytest.FixtureRequest) -> Compute:
    """Each adapter in turn."""
    name = "local_pool" if request.param == "local" else "dask_local"
    result: Compute = request.getfixturevalue(name)
    return result


async def test_submit_runs_the_function_in_another_process(compute: Compute) -> None:
    assert await compute.submit(pow, 2, 10) == 1024
    assert await compute.submit(math.fsum, [0.1] * 10) == 1.0
    assert await compute.submit(os.getpid) != os.getpid()


async def test_exceptions_come_back_with_their_type(compute: Compute) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        await compute.submit(int, "not a number")


async def test_many_concurrent_jobs_each_get_their_own_answer(compute: Compute) -> None:
    results = await asyncio.gather(*(compute.submit(pow, n, 2) for n in range(40)))
    assert results == [n * n for n in range(40)]
    pids = set(await asyncio.gather(*(compute.submit(os.getpid) for _ in range(20))))
    assert os.getpid() not in pids


async def test_ping_is_a_real_round_trip(compute: Compute) -> None:
    ready = await compute.ping()
    assert ready.ok, ready.detail
    assert "answered from pid" in ready.detail or "2 workers" in ready.detail


async def test_ping_answers_at_once_while_every_worker_is_busy(compute: Compute) -> None:
    # health must not queue behind long jobs: readiness is about the backend, not a free worker
    busy = [asyncio.create_task(compute.submit(time.sleep, 4)) for _ in range(3)]
    await asyncio.sleep(1.0)
    started = time.monotonic()
    ready = await compute.ping()
    assert ready.ok, ready.detail
    assert time.monotonic() - started < 1.5
    await asyncio.gather(*busy)


async def test_sweep_is_identical_on_local_pool_and_dask_cluster(
    local_pool: LocalCompute, dask_local: DaskCompute
) -> None:
    experiment = plan(
        "queueing_station",
        {"arrival_rate": 0.7, "service_rate": 1.0, "horizon": 2000.0, "warmup": 100.0},
        seed=5,
        replications=3,
        sweep={"servers": [1, 2], "arrival_rate": [0.5, 0.9]},
    )
    seen: list[tuple[int, int]] = []
    on_pool = await execute(experiment, local_pool, lambda done, total: seen.append((done, total)))
    on_dask = await execute(experiment, dask_local)
    reference = run_inline(experiment)
    assert (
        [p.as_dict() for p in on_pool] == [p.as_dict() for p in on_dask] == [p.as_dict() for p in reference]
    )
    assert len(on_pool) == 4 and [p.params["servers"] for p in on_pool] == [1, 1, 2, 2]
    # the points differ from each other: the equality above is not between empty or constant results
    assert len({p.kpis["mean_wait"]["mean"] for p in on_pool}) == 4
    assert seen[0] == (0, 12) and seen[-1] == (12, 12) and [d for d, _ in seen] == list(range(13))


async def test_dask_url_names_a_real_scheduler(dask_local: DaskCompute) -> None:
    await dask_local.ping()
    address = dask_local._cluster.scheduler_address  # tcp://127.0.0.1:port of the running cluster
    remote = compute_for("dask://" + address.removeprefix("tcp://"))
    assert isinstance(remote, DaskCompute)
    try:
        assert await remote.submit(pow, 3, 3) == 27
        ready = await remote.ping()
        assert ready.ok and address in ready.detail and "2 workers" in ready.detail
    finally:
        await remote.close()
    assert await dask_local.submit(pow, 2, 3) == 8  # a remote client's close leaves the cluster running


async def test_a_scheduler_that_does_not_answer_is_not_ready() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    compute = DaskCompute(f"dask://127.0.0.1:{port}?timeout=1")
    with pytest.raises(NotReady, match="does not answer"):
        await compute.submit(pow, 1, 1)
    assert not (await compute.ping()).ok
    await compute.close()


async def test_compute_urls() -> None:
    assert isinstance(compute_for("local://?workers=1"), LocalCompute)
    assert isinstance(compute_for("dask+local://?workers=1"), DaskCompute)
    assert parse_dask_url("dask://sched.example:9000") == ("tcp://sched.example:9000", 0, 10.0)
    assert parse_dask_url("dask://10.1.2.3") == ("tcp://10.1.2.3:8786", 0, 10.0)
    assert parse_dask_url("dask+local://?workers=3&timeout=5") == (None, 3, 5.0)
    for bad in (
        "dask://",
        "dask://h:99999",
        "dask+local://?workers=0",
        "dask+local://?workers=x",
        "dask://h?timeout=0",
        "spark://h",
    ):
        with pytest.raises(ConfigurationError):
            parse_dask_url(bad)
    with pytest.raises(ConfigurationError):
        compute_for("ray://h")
