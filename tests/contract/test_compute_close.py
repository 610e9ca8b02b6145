"""Closing the local process pool ends its workers, even one still running a long job."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from iplus.infra.compute.local import CLOSE_GRACE_S, LocalCompute


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a terminated child of this process may linger as a zombie until reaped: count it as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_close_ends_a_worker_busy_with_a_long_job() -> None:
    pool = LocalCompute("local://?workers=1")
    pid = await pool.submit(os.getpid)
    job = asyncio.ensure_future(pool.submit(time.sleep, 120))
    await asyncio.sleep(0.5)  # the worker has taken the job
    started = time.monotonic()
    await pool.close()
    took = time.monotonic() - started
    assert CLOSE_GRACE_S - 0.5 <= took < CLOSE_GRACE_S + 6
    assert not _alive(pid)
    job.cancel()
    with contextlib.suppress(BaseException):
        await job


async def test_close_of_an_idle_pool_is_quick() -> None:
    pool = LocalCompute("local://?workers=2")
    pid = await pool.submit(os.getpid)
    started = time.monotonic()
    await pool.close()
    assert time.monotonic() - started < CLOSE_GRACE_S
    assert not _alive(pid)
