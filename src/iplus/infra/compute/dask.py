"""Dask distributed, the scale-out compute backend: a scheduler by URL, or a LocalCluster in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from iplus.core.errors import ConfigurationError, NotReady
from iplus.infra.compute.local import workers_in
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check

T = TypeVar("T")


def parse_dask_url(url: str) -> tuple[str | None, int, float]:
    """(scheduler address or None for a local cluster, local workers, connect timeout in seconds)."""
    parts = urlsplit(url)
    raw_timeout = parse_qs(parts.query).get("timeout", ["10"])[0]
    try:
        timeout = float(raw_timeout)
    except ValueError as exc:
        raise ConfigurationError(f"compute URL {url!r}: timeout must be a number of seconds") from exc
    if not 0 < timeout <= 600:
        raise ConfigurationError(f"compute URL {url!r}: timeout must be 0..600 seconds")
    if parts.scheme == "dask":
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"compute URL {url!r}: invalid port") from exc
        if not parts.hostname:
            raise ConfigurationError(f"compute URL {url!r}: needs a scheduler host, dask://host:8786")
        return f"tcp://{parts.hostname}:{port or 8786}", 0, timeout
    if parts.scheme == "dask+local":
        return None, workers_in(url, parts.query), timeout
    raise ConfigurationError(f"compute URL {url!r}: use dask://host:port or dask+local://?workers=N")


class DaskCompute:
    """Runs functions on Dask workers; connects (or starts the local cluster) on first use."""

    name = "compute"

    def __init__(self, url: str) -> None:
        self.url = url
        self.address, self.workers, self.timeout = parse_dask_url(url)
        self._client: Any = None
        self._cluster: Any = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        async with self._lock:
            if self._client is not None:
                return self._client
            from distributed import Client, LocalCluster  # heavy: imported only when used

            try:
                if self.address is None:
                    # processes: simulation and training are CPU-bound Python, so threads would share one GIL
                    self._cluster = await LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        host="127.0.0.1",
                        asynchronous=True,
                    )
                    self._client = await Client(self._cluster, asynchronous=True)  # type: ignore[no-untyped-call]
                else:
                    self._client = await Client(  # type: ignore[no-untyped-call]
                        self.address, asynchronous=True, timeout=f"{self.timeout}s"
                    )
            except (OSError, TimeoutError) as exc:
                await self._release()
                raise NotReady(
                    f"Dask scheduler at {self.address or 'local cluster'} does not answer: {exc}"
                ) from exc
            return self._client

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker (never cached: the same call may be meant to run again)."""
        client = await self._connect()
        future = client.submit(fn, *args, pure=False)
        try:
            result: T = await future
        finally:
            future.release()
        return result

    async def ping(self) -> Readiness:
        """Round trip to the scheduler, which must know at least one worker."""

        async def check() -> str:
            # asking the scheduler, not a worker: a task would queue behind long jobs and time out
            client = await self._connect()
            info = await asyncio.wait_for(client.scheduler.identity(), self.timeout)
            workers = len(info.get("workers", {}))
            if workers == 0:
                raise RuntimeError("the scheduler has no workers")
            where = "in-process LocalCluster" if self.address is None else self.address
            return f"dask distributed ({where}, {workers} workers)"

        return await timed_check("dask", check)

    async def _release(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            await client.close()
        if cluster is not None:
            await cluster.close()

    async def close(self) -> None:
        """Disconnect; a local cluster is shut down, a remote scheduler is left running."""
        async with self._lock:
            await self._release()
