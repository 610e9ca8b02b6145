"""Small helper to time a readiness check and turn failures into a not-ready answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from iplus.infra.ports import Readiness


async def timed_check(backend: str, check: Callable[[], Awaitable[str]]) -> Readiness:
    """Run ``check``; its string is the detail when it succeeds, the exception's text when not."""
    start = time.perf_counter()
    try:
        detail = await check()
        ok = True
    except Exception as exc:  # a readiness probe reports every failure instead of raising
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return Readiness(ok, backend, detail, round((time.perf_counter() - start) * 1000, 2))
