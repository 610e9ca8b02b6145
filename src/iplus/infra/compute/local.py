"""Local process pool, the default compute backend."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from iplus.core.errors import ConfigurationError
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check

T = TypeVar("T")


def workers_from_url(url: str) -> int:
    """``local://`` -> one worker per core; ``local://?workers=N`` -> N."""
    parts = urlsplit(url)
    if parts.scheme != "local":
        raise ConfigurationError(f"compute URL {url!r}: only local:// is available in this version")
    raw = parse_qs(parts.query).get("workers", [str(os.cpu_count() or 1)])[0]
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

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: forking a process that runs an event loop and threads is unsafe
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker process."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), fn, *args)

    async def ping(self) -> Readiness:
        """Round trip through a worker process."""

        async def check() -> str:
            pid = await self.submit(os.getpid)
            return f"local process pool, {self.workers} workers (answered from pid {pid})"

        return await timed_check("local", check)

    async def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
