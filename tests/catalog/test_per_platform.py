"""A domain keeps one auto-fulfilment per running platform, and forgets it when that platform stops."""

from __future__ import annotations

from typing import Any

from iplus.platform.catalog.auto import PerPlatform


class Made:
    """Stands for an auto-fulfilment: only its stop is called here."""

    def __init__(self, ctx: object) -> None:
        self.ctx = ctx
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_one_per_context_made_once_and_forgotten_on_stop() -> None:
    made: list[Made] = []

    def make(ctx: object) -> Any:
        made.append(Made(ctx))
        return made[-1]

    per: PerPlatform[object] = PerPlatform(make)
    a, b = object(), object()
    assert per.of(a) is per.of(a) and len(made) == 1
    assert per.of(b) is not per.of(a) and len(made) == 2
    await per.stop(a)
    assert made[0].stopped and not made[1].stopped
    await per.stop(a)  # again: nothing left to stop
    assert per.of(a) is made[2]  # a new one for a context started again
