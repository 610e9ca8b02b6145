"""The edge agent: sources -> edge processing -> on-disk queue -> forwarder -> platform."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from iplus.access.edge.actions import AlarmActions
from iplus.access.edge.buffer import AlarmEvent, Buffer, BufferThread
from iplus.access.edge.config import EdgeConfig
from iplus.access.edge.forwarder import Backoff, Forwarder
from iplus.access.edge.generator import GeneratorSource
from iplus.access.edge.http_input import HttpSource
from iplus.access.edge.model import Reading, Rejected
from iplus.access.edge.mqtt import MqttPublisher, MqttSource
from iplus.access.edge.pipeline import Handled, Pipeline, Processor
from iplus.access.edge.sources import SinkClosed, Source
from iplus.access.edge.uplink import HttpUplink, Uplink

log = logging.getLogger("iplus.edge")
MAX_COMMIT = 5000  # readings per transaction: large enough to amortise the fsync, small enough to stay snappy


def build_sources(config: EdgeConfig) -> list[Source]:
    """The sources whose sections are present and enabled, in the order mqtt, http, generator."""
    s = config.sources
    sources: list[Source] = []
    if s.mqtt is not None and s.mqtt.enabled:
        sources.append(MqttSource(config.mqtt, s.mqtt, client_id=f"iplus-edge-{config.gateway.id}"))
    if s.http is not None and s.http.enabled:
        sources.append(HttpSource(s.http))
    if s.generator is not None and s.generator.enabled:
        sources.append(GeneratorSource(s.generator))
    return sources


@dataclass(frozen=True, slots=True)
class AgentStats:
    """A snapshot of what the agent has done since it started (``queued`` counts the whole file)."""

    received: int
    repeats: int
    rejected: int
    queued: int
    forwarded: int
    dead_lettered: int
    retries: int
    alarms_active: int
    alarm_events: int
    late: int
    uplink_up: bool | None
    last_error: str | None

    def line(self) -> str:
        """One status line for an operator."""
        uplink = {True: "up", False: f"down ({self.last_error})", None: "not tried yet"}[self.uplink_up]
        return (
            f"queued {self.queued} | forwarded {self.forwarded} | dead {self.dead_lettered} | "
            f"alarms {self.alarms_active} active, {self.alarm_events} events | "
            f"received {self.received} | uplink {uplink}"
        )


@dataclass(slots=True)
class _Work:
    readings: Sequence[Reading]
    rejects: Sequence[Rejected]
    done: asyncio.Future[None] | None


_TICK = _Work((), (), None)  # lets windows close on time while no input arrives
_STOP = _Work((), (), None)


class EdgeAgent:
    """One gateway's agent; use ``async with EdgeAgent(config) as agent:`` or start() / stop().

    Every reading a source hands in is processed and committed to the on-disk queue before the
    source's ``submit`` future resolves (then the source acknowledges its input). Commits are
    grouped: input that arrives while one commit runs goes into the next. The forwarder sends
    the queue up in order and removes messages only once the platform answered 2xx.
    """

    tick_s = 1.0

    def __init__(
        self,
        config: EdgeConfig,
        *,
        uplink: Uplink | None = None,
        sources: Sequence[Source] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self._own_uplink = uplink is None
        self.uplink: Uplink = uplink or HttpUplink(
            config.platform.base_url, config.platform.resolve_api_key(), config.platform.timeout_s
        )
        self.sources: list[Source] = list(sources) if sources is not None else build_sources(config)
        self.publisher: MqttPublisher | None = None
        if AlarmActions.needs_publisher(config.devices):
            self.publisher = MqttPublisher(config.mqtt, f"iplus-edge-{config.gateway.id}-commands")
        self.actions = AlarmActions(config.devices, self.publisher)
        self._thread = BufferThread()
        self._inbox: asyncio.Queue[_Work] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []
        self._source_tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._buffer: Buffer | None = None
        self._pipeline: Pipeline | None = None
        self._forwarder: Forwarder | None = None
        self._accepting = False
        self._writing = False
        self._queued = 0
        self._received = self._repeats = self._rejected = self._events = 0
        self._alarms: dict[tuple[str, str], bool] = {}
        self._changed = asyncio.Event()  # set whenever the queue count or the writer's state moves

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the buffer, restore alarm states, and start the writer, forwarder and sources."""
        try:
            await self._start()
        except BaseException:
            await self.stop()  # release the thread and the uplink's connections
            raise

    async def _start(self) -> None:
        cfg = self.config
        buffer = await self._thread.call(Buffer, cfg.buffer.path, cfg.gateway.id, cfg.buffer.synchronous)
        self._buffer = buffer
        self._alarms = await self._thread.call(buffer.alarm_states)
        self._queued = await self._thread.call(buffer.queued)
        processor = Processor(cfg.devices, cfg.gateway.window_grace_s, self._alarms)
        self._pipeline = Pipeline(buffer, processor, cfg.buffer.dedupe_window_s)
        fwd = cfg.forward
        backoff = Backoff(fwd.backoff_initial_s, fwd.backoff_max_s, fwd.backoff_factor)
        self._forwarder = Forwarder(self.uplink, buffer, self._thread, fwd.batch_size, backoff, self._removed)
        self._accepting = True
        self._writer = asyncio.create_task(self._write_loop(), name="edge-writer")
        self._tasks = [
            asyncio.create_task(self._forwarder.run(), name="edge-forwarder"),
            asyncio.create_task(self._tick_loop(), name="edge-ticker"),
        ]
        if self.publisher is not None:
            self._tasks.append(asyncio.create_task(self.publisher.run(), name="edge-commands"))
        self._source_tasks = [
            asyncio.create_task(s.run(self), name=f"edge-source-{s.name}") for s in self.sources
        ]
        log.info(
            "edge agent %s started: %d queued, %d sources", cfg.gateway.id, self._queued, len(self.sources)
        )

    async def stop(self) -> None:
        """Stop the sources, commit what they handed in (closing open windows), then stop forwarding."""
        for task in self._source_tasks:
            task.cancel()
        await asyncio.gather(*self._source_tasks, return_exceptions=True)
        self._accepting = False
        if self._writer is not None:
            await self._inbox.put(_STOP)
            await self._writer
            self._writer = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._own_uplink and isinstance(self.uplink, HttpUplink):
            await self.uplink.aclose()
        if self._buffer is not None:
            await self._thread.call(self._buffer.close)
            self._buffer = None
        self._thread.shutdown()

    async def __aenter__(self) -> EdgeAgent:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def serve(self, stop: asyncio.Event) -> None:
        """Wait until ``stop`` is set; a source that fails ends the wait with its error."""
        stopper = asyncio.create_task(stop.wait())
        try:
            pending = {stopper, *self._source_tasks}
            while stopper in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done - {stopper}:
                    failure = None if task.cancelled() else task.exception()
                    if failure is not None:
                        raise failure
        finally:
            stopper.cancel()

    async def sources_done(self) -> None:
        """Wait until every source has ended (a finite generator, say); re-raise a source's failure."""
        for task in self._source_tasks:
            await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait until the queue is empty and nothing waits to be committed (bound it with asyncio.timeout)."""
        while self._queued > 0 or self._writing or not self._inbox.empty():
            self._changed.clear()
            await self._changed.wait()

    # -- the sink the sources use -----------------------------------------------------------------

    async def submit(
        self, readings: Sequence[Reading], rejects: Sequence[Rejected] = ()
    ) -> asyncio.Future[None]:
        """Queue input for the next commit; the returned future resolves once it is on disk."""
        if not self._accepting:
            raise SinkClosed("the edge agent is not running")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._inbox.put(_Work(readings, rejects, done))
        return done

    async def ingest_many(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are processed and committed to the buffer."""
        await (await self.submit(readings))

    async def ingest(self, reading: Reading) -> None:
        """Return once ``reading`` is processed and committed to the buffer."""
        await self.ingest_many([reading])

    # -- what the agent has done -------------------------------------------------------------------

    @property
    def stats(self) -> AgentStats:
        """A snapshot of the counters."""
        fwd = self._forwarder.stats if self._forwarder else None
        return AgentStats(
            received=self._received,
            repeats=self._repeats,
            rejected=self._rejected,
            queued=self._queued,
            forwarded=fwd.forwarded if fwd else 0,
            dead_lettered=fwd.dead_lettered if fwd else 0,
            retries=fwd.retries if fwd else 0,
            alarms_active=sum(self._alarms.values()),
            alarm_events=self._events,
            late=self._pipeline.processor.late if self._pipeline else 0,
            uplink_up=fwd.uplink_up if fwd else None,
            last_error=fwd.last_error if fwd else None,
        )

    @property
    def buffer(self) -> Buffer:
        """The open buffer (for inspection; call its methods through :meth:`inspect`)."""
        if self._buffer is None:
            raise SinkClosed("the edge agent is not running")
        return self._buffer

    async def inspect(self, fn: Callable[[Buffer], object]) -> object:
        """Run ``fn(buffer)`` on the buffer thread (the only thread that may touch it)."""
        buffer = self.buffer
        return await self._thread.call(fn, buffer)

    # -- internals ----------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        assert self._pipeline is not None
        pipeline = self._pipeline
        stopping = False
        while not stopping:
            batch = [await self._inbox.get()]
            size = len(batch[0].readings)
            while size < MAX_COMMIT and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
                size += len(batch[-1].readings)
            stopping = any(w is _STOP for w in batch)
            readings = [r for w in batch for r in w.readings]
            rejects = [r for w in batch for r in w.rejects]
            self._writing = True
            try:
                handled = await self._thread.call(pipeline.handle, readings, rejects, self.clock(), stopping)
            except Exception as exc:
                log.exception("commit to the buffer failed; the input is not acknowledged")
                for w in batch:
                    if w.done is not None and not w.done.done():
                        w.done.set_exception(exc)
                continue
            finally:
                self._writing = False
                self._changed.set()
            self._committed(handled)
            for w in batch:
                if w.done is not None and not w.done.done():
                    w.done.set_result(None)
        while not self._inbox.empty():  # put after the stop: refuse rather than leave a caller waiting
            late = self._inbox.get_nowait()
            if late.done is not None and not late.done.done():
                late.done.set_exception(SinkClosed("the edge agent stopped"))

    def _committed(self, handled: Handled) -> None:
        self._received += handled.accepted
        self._repeats += handled.repeats
        self._rejected += handled.rejected
        self._queued += handled.queued
        if handled.queued and self._forwarder is not None:
            self._forwarder.wakeup.set()
        if handled.events:
            self._alarm_events(handled.events)

    def _alarm_events(self, events: list[AlarmEvent]) -> None:
        self._events += len(events)
        for e in events:
            self._alarms[(e.device_id, e.alarm)] = e.active
        try:
            self.actions(events)
        except Exception:  # an action must never stop the data path
            log.exception("alarm action failed")

    def _removed(self, n: int) -> None:
        self._queued -= n
        self._changed.set()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self._inbox.empty():
                with contextlib.suppress(asyncio.QueueFull):
                    self._inbox.put_nowait(_TICK)
