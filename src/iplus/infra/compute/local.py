"""Local process pool, the default compute backend."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from iplus.core.errors import ConfigurationError
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check

T = TypeVar("T")
PING_TIMEOUT_S = 5.0
CLOSE_GRACE_S = 3.0  # how long close() lets a running job finish before ending its worker


def workers_from_url(url: str) -> int:
    """``local://`` -> one worker per core; ``local://?workers=N`` -> N."""
    parts = urlsplit(url)
    if parts.scheme != "local":
        raise ConfigurationError(f"compute URL {url!r}: use local://, dask://host:port or dask+local://")
    return workers_in(url, parts.query)


def workers_in(url: str, query: str) -> int:
    """The ``workers=N`` of a compute URL's query, one per core when absent."""
    raw = parse_qs(query).get("workers", [str(os.cpu_count() or 1)])[0]
    try:
        workers = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"compute URL {url!r}: workers must be a whole number") from exc
    if workers < 1:
        raise ConfigurationError(f"compute URL {url!r}: workers must be at least 1")
    return workers


class LocalCompute:
    """Runs functions in a pool of worker processes started on first use."""

    name = "compute"

    def __init__(self, url: str = "local://") -> None:
        self.workers = workers_from_url(url)
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: forking a process that runs an event loop and threads is unsafe
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker process."""
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        try:
            return await loop.run_in_executor(self._executor(), fn, *args)
        finally:
            self._in_flight -= 1

    async def ping(self) -> Readiness:
        """Round trip through a worker process; busy workers are ready, not down."""

        async def check() -> str:
            if self._pool is not None and self._in_flight >= self.workers:
                # a round trip would queue behind long jobs (training, sweeps) and time out the probe
                alive = sum(p.is_alive() for p in list(getattr(self._pool, "_processes", {}).values()))
                if alive == 0:
                    raise RuntimeError("no worker process is alive")
                return f"local process pool, {self.workers} workers, all busy ({self._in_flight} jobs)"
            pid = await asyncio.wait_for(self.submit(os.getpid), PING_TIMEOUT_S)
            return f"local process pool, {self.workers} workers (answered from pid {pid})"

        return await timed_check("local", check)

    async def close(self) -> None:
        """Stop the worker processes: queued work is dropped, a job still running gets a few seconds."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            await asyncio.to_thread(_end, processes, CLOSE_GRACE_S)


def _end(processes: list[Any], grace_s: float) -> None:
    """Wait up to ``grace_s`` for the workers to finish, then terminate the rest (a long job must not
    keep a stopping platform alive, nor outlive it as an orphan)."""
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(5)
