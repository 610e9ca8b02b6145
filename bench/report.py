"""Timing and printing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable


async def rate(fn: Callable[[], Awaitable[object]], n: int, repeats: int = 3) -> float:
    """Operations per second of ``fn`` (median of ``repeats`` runs of ``n`` calls)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def row(name: str, platform: float, baseline: float, unit: str, baseline_name: str) -> None:
    """Print one comparison line: platform figure, baseline figure, ratio."""
    print(
        f"{name:<44} iplus {platform:>10,.0f} {unit}   {baseline_name} {baseline:>10,.0f} {unit}"
        f"   ratio {platform / baseline:5.2f}"
    )
