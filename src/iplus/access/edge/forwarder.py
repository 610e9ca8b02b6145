"""The forwarder: oldest queued messages first, one batch in flight, retried until the platform answers."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from iplus.access.edge.buffer import Buffer, BufferThread
from iplus.access.edge.model import OutboxMessage
from iplus.access.edge.uplink import PermanentUplinkError, RetryableUplinkError, Uplink

log = logging.getLogger("iplus.edge.forwarder")


class Backoff:
    """Exponential back-off with +-20 % jitter, so many gateways do not retry in step."""

    def __init__(
        self, initial: float, maximum: float, factor: float, rng: random.Random | None = None
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._next = initial
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def delay(self, at_least: float | None = None) -> float:
        """The pause before the next try (at least ``at_least``, never above the maximum)."""
        base = self._next
        self._next = min(self.maximum, self._next * self.factor)
        wait = min(self.maximum, base * self._rng.uniform(0.8, 1.2))
        return min(self.maximum, max(wait, at_least or 0.0))

    def reset(self) -> None:
        """Start again from the initial pause (after a success)."""
        self._next = self.initial


@dataclass(slots=True)
class ForwardStats:
    """What the forwarder did so far."""

    forwarded: int = 0
    batches: int = 0
    retries: int = 0
    dead_lettered: int = 0
    uplink_up: bool | None = None
    last_error: str | None = None


class Forwarder:
    """Sends the queue's oldest messages in sequence order and removes them only after a 2xx.

    On a retryable error it backs off and sends the very same batch again (same msg ids), so a batch
    the platform stored before its answer was lost is de-duplicated there. A permanent refusal
    moves the named messages (or the whole batch) to the dead letters and carries on.
    """

    def __init__(
        self,
        uplink: Uplink,
        buffer: Buffer,
        thread: BufferThread,
        batch_size: int,
        backoff: Backoff,
        on_removed: Callable[[int], None] | None = None,
    ) -> None:
        self.uplink = uplink
        self.buffer = buffer
        self.thread = thread
        self.batch_size = batch_size
        self.backoff = backoff
        self.stats = ForwardStats()
        self.wakeup = asyncio.Event()
        self._on_removed = on_removed or (lambda n: None)

    async def run(self) -> None:
        """Forward forever; cancel to stop (an unanswered batch stays queued)."""
        while True:
            self.wakeup.clear()  # before the peek, so a commit during the peek is not missed
            try:
                batch = await self.thread.call(self.buffer.peek, self.batch_size)
                if batch:
                    await self._deliver(batch)
                else:
                    await self.wakeup.wait()
            except Exception as exc:  # a daemon must not die on a surprise: the queue is still on disk
                log.exception("forwarder error; retrying from the queue")
                self._down(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.backoff.delay())

    async def _deliver(self, batch: list[OutboxMessage]) -> None:
        """Send ``batch`` until every message in it is either acknowledged or dead-lettered."""
        while batch:
            try:
                await self.uplink.send(batch)
            except RetryableUplinkError as exc:
                self._down(exc.detail)
                await asyncio.sleep(self.backoff.delay(exc.retry_after))
                continue
            except PermanentUplinkError as exc:
                batch = await self._refused(batch, exc)
                continue
            await self.thread.call(self.buffer.ack, [m.seq for m in batch])
            self.stats.forwarded += len(batch)
            self.stats.batches += 1
            self.stats.uplink_up = True
            self.backoff.reset()
            self._on_removed(len(batch))
            return

    async def _refused(self, batch: list[OutboxMessage], exc: PermanentUplinkError) -> list[OutboxMessage]:
        """Dead-letter what the platform refused; return what is left to send."""
        self.stats.uplink_up = True
        if exc.too_large and len(batch) > 1:
            self.batch_size = max(1, len(batch) // 2)
            log.warning("platform found the batch too large; sending %d at a time", self.batch_size)
            return batch[: self.batch_size]  # the rest stays queued for the next peek
        if exc.rejected and all(0 <= i < len(batch) for i in exc.rejected):
            dead = [(batch[i], exc.rejected[i]) for i in sorted(exc.rejected)]
            rest = [m for i, m in enumerate(batch) if i not in exc.rejected]
        else:
            dead = [(m, exc.detail) for m in batch]
            rest = []
        await self.thread.call(self.buffer.dead_letter, dead, exc.status_code)
        self.stats.dead_lettered += len(dead)
        self.stats.last_error = exc.detail
        self._on_removed(len(dead))
        log.error("%d message(s) moved to the dead letters: %s", len(dead), exc.detail)
        return rest

    def _down(self, detail: str) -> None:
        if self.stats.uplink_up is not False or self.stats.last_error != detail:
            log.warning("uplink: %s; retrying the same batch", detail)
        self.stats.retries += 1
        self.stats.uplink_up = False
        self.stats.last_error = detail
