"""The ingest writer: micro-batches messages from every channel into one durable append."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from iplus.infra.bus import EventBus
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Message, from_us
from iplus.infra.tsdb.columns import merge

log = logging.getLogger(__name__)


class Ingestor:
    """Callers hand in messages and get back, once they are durable, which ones were new."""

    def __init__(self, store: TelemetryStore, bus: EventBus, *, max_readings: int = 50_000) -> None:
        self.store = store
        self.bus = bus
        self.max_readings = max_readings
        self._queue: asyncio.Queue[tuple[list[Message], asyncio.Future[list[bool]]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._appending = False
        self.stored = 0
        self.duplicates = 0
        # called with each append's new messages once they are durable (the stream engine listens here)
        self.listeners: list[Callable[[list[Message]], None]] = []

    @property
    def idle(self) -> bool:
        """Whether the writer waits for work: no append running, nothing queued."""
        return not self._appending and self._queue.empty()

    async def write(self, messages: Sequence[Message]) -> list[bool]:
        """Store ``messages`` (each whole, once); returns per message whether it was new."""
        if not messages:
            return []
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever(), name="iplus-ingest-writer")
        done: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((merge([messages]), done))
        return await done

    async def _flush_forever(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            size = sum(len(m.readings) for m in first[0])
            # take whatever else is already waiting: one append for many callers
            while size < self.max_readings and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += sum(len(m.readings) for m in item[0])
            self._appending = True
            try:
                await self._flush(batch)
            finally:
                self._appending = False
                for _ in batch:
                    self._queue.task_done()

    async def _flush(self, batch: list[tuple[list[Message], asyncio.Future[list[bool]]]]) -> None:
        messages = merge([msgs for msgs, _ in batch])  # columnar when every caller's messages are
        try:
            fresh = await self.store.append(messages)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            # one caller's bad message must not fail the others merged into the same append:
            # each caller's messages again, alone
            for item in batch:
                await self._flush([item])
            return
        start = 0
        for msgs, done in batch:
            if not done.done():
                done.set_result(fresh[start : start + len(msgs)])
            start += len(msgs)
        new = sum(fresh)
        self.stored += new
        self.duplicates += len(fresh) - new
        try:
            self._announce(messages, fresh)
        except Exception:  # the data is stored; a failed live event must not stop the writer
            log.exception("could not announce %d stored messages", len(messages))
        if self.listeners and new:
            stored = [m for m, f in zip(messages, fresh, strict=True) if f]
            for listener in self.listeners:
                try:
                    listener(stored)
                except Exception:  # same: one failing listener must not stop ingest
                    log.exception("ingest listener %r failed", listener)

    def _announce(self, messages: list[Message], fresh: list[bool]) -> None:
        for message, new in zip(messages, fresh, strict=True):
            if not new or not self.bus.listening(message.org_id):
                continue
            latest_ts = max(ts for _, ts, _ in message.readings)
            self.bus.publish(
                message.org_id,
                {
                    "type": "reading",
                    "device_id": message.device_id,
                    "ts": from_us(latest_ts).isoformat(),
                    "values": {k: v for k, _, v in message.readings},
                },
            )

    async def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        if self._task is not None and not self._task.done():
            await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
