"""The simulation run: N devices, round robin, at a total rate of messages per second.

Message slot k is due ``k / rate`` seconds after the start and belongs to device ``k mod N`` (so
each device sends every ``N / rate`` seconds, the devices staggered evenly). Missed slots are sent
at once, so the average rate holds when the loop wakes late. At most ``max_in_flight`` sends run
concurrently; when the transport cannot keep up, the run falls behind and the summary says so.

Simulated time: a device's message j carries the signals at ``origin + speed * wall + offset``. When
the profile replays a series and ``speed`` is None ("auto"), each message carries the next row
instead (row pace), whatever the rate. Timestamps are the send time ("now") or the simulated time
("original": for a replay, the original time of the row in the file).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from iplus.access.sim.devices import Device
from iplus.access.sim.payloads import Message, Value
from iplus.access.sim.profiles import Profile
from iplus.access.sim.replay import IntArray, Series
from iplus.access.sim.signals import FloatArray
from iplus.access.sim.transports import Failure, Outcome, Transport
from iplus.core.errors import InvalidInput
from iplus.core.ids import new_id

Timestamps = Literal["now", "original"]
DRAIN_S = 15.0  # how long in-flight sends may finish after the last slot


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How fast, how long, and on which simulated clock a run goes."""

    rate: float = 10.0
    duration_s: float | None = None
    count: int | None = None
    seed: int = 0
    speed: float | None = None
    timestamps: Timestamps = "now"
    offset_s: float = 0.0
    origin: float | None = None
    max_in_flight: int = 256
    linger_s: float = 0.05
    chunk: int = 64
    run_id: str | None = None

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise InvalidInput("rate must be > 0 messages per second")
        if self.duration_s is not None and not self.duration_s > 0:
            raise InvalidInput("duration must be > 0 seconds")
        if self.count is not None and self.count < 1:
            raise InvalidInput("count must be >= 1")
        if self.speed is not None and not self.speed > 0:
            raise InvalidInput("speed must be > 0 (or auto)")
        if self.max_in_flight < 1 or self.chunk < 1:
            raise InvalidInput("max_in_flight and chunk must be >= 1")

    def planned(self) -> int | None:
        """How many message slots the run will have, when it is bounded."""
        by_time = None if self.duration_s is None else int(np.ceil(self.duration_s * self.rate))
        counts = [n for n in (self.count, by_time) if n is not None]
        return min(counts) if counts else None


@dataclass
class Stats:
    """What happened so far: slots, sends, failures by reason, drops by design, elapsed wall time."""

    planned: int | None = None
    slots: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    in_flight: int = 0
    elapsed_s: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def achieved_rate(self) -> float:
        """Message slots (sent, failed and dropped by design) per second of wall time."""
        return self.slots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def send_rate(self) -> float:
        """Messages the platform took per second of wall time."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Count the outcomes of one send."""
        for outcome in outcomes:
            if outcome is None:
                self.sent += 1
                continue
            self.failed += 1
            self.failures[outcome.reason] += 1
            self.examples.setdefault(outcome.reason, outcome.detail)


def assign_profiles(devices: Sequence[Device], profiles: Profile | Mapping[str, Profile]) -> list[Profile]:
    """Each device's profile: the only one given, or the one named by the device's type."""
    if isinstance(profiles, Profile):
        return [profiles] * len(devices)
    if len(profiles) == 1 and all(d.type is None for d in devices):
        return [next(iter(profiles.values()))] * len(devices)
    chosen: list[Profile] = []
    for device in devices:
        profile = profiles.get(device.type or "")
        if profile is None:
            raise InvalidInput(
                f"device {device.device_id} has type {device.type!r} and no profile is given for it "
                f"(profiles for: {', '.join(sorted(profiles))})"
            )
        chosen.append(profile)
    return chosen


class DeviceStream:
    """The messages of one device, generated ahead in chunks so numpy does the work in bulk."""

    def __init__(
        self,
        device: Device,
        index: int,
        n_devices: int,
        profile: Profile,
        options: RunOptions,
        run_id: str,
        wall_start: float,
    ) -> None:
        self.device = device
        self._index, self._n, self._options, self._run_id = index, n_devices, options, run_id
        replay = profile.replay()
        self._series: Series | None = replay.series() if replay is not None else None
        self._row_pace = options.speed is None and self._series is not None
        self._speed = options.speed or 1.0
        self._offset = index * options.offset_s
        if options.origin is not None:
            self._origin = options.origin
        elif options.timestamps == "original" and self._series is not None:
            self._origin = float(self._series.epochs[0])  # the replay plays on its own calendar
        else:
            self._origin = wall_start
        self._signals = profile.signals(options.seed, index, self._origin)
        self._units = profile.units()
        self._next = 0
        self._ahead: deque[tuple[int, dict[str, Value], float | None] | None] = deque()

    def sim_times(self, j: IntArray) -> FloatArray:
        """Simulated time of the device's messages number ``j``."""
        if self._row_pace and self._series is not None:
            first_row = round(self._offset / self._series.step_s)
            return self._origin + self._series.row_elapsed(j + first_row)
        wall = (j * self._n + self._index) / self._options.rate
        return self._origin + self._speed * wall + self._offset

    def _refill(self) -> None:
        j = np.arange(self._next, self._next + self._options.chunk, dtype=np.int64)
        self._next += self._options.chunk
        t = self.sim_times(j)
        columns = self._signals.values(t)
        keep = self._signals.keep(t).tolist()
        stamps: list[float] | None = None
        if self._options.timestamps == "original":
            stamps = (self._series.timestamps(t - self._origin) if self._series is not None else t).tolist()
        for i, number in enumerate(j.tolist()):
            if not keep[i]:
                self._ahead.append(None)
                continue
            values: dict[str, Value] = {
                key: v for key, column in columns.items() if (v := column[i]) is not None
            }
            self._ahead.append((number, values, None if stamps is None else stamps[i]))

    def next(self) -> Message | None:
        """The next message, or None when this slot is dropped by design."""
        if not self._ahead:
            self._refill()
        item = self._ahead.popleft()
        if item is None:
            return None
        number, values, stamp = item
        return Message(
            device_id=self.device.device_id,
            msg_id=f"{self._run_id}-{number}",
            ts=time.time() if stamp is None else stamp,
            values=values,
            units=self._units,
        )


class Runner:
    """Runs one simulation: build with devices, profiles, a transport and options, then ``await run()``."""

    def __init__(
        self,
        devices: Sequence[Device],
        profiles: Profile | Mapping[str, Profile],
        transport: Transport,
        options: RunOptions,
    ) -> None:
        if not devices:
            raise InvalidInput("no devices to simulate")
        self.devices = list(devices)
        self.profiles = assign_profiles(self.devices, profiles)
        self.transport, self.options = transport, options
        self.run_id = options.run_id or new_id()[-10:]
        self.stats = Stats(planned=options.planned())
        self._streams: list[DeviceStream] = []
        self._t0 = 0.0

    async def run(
        self,
        progress: Callable[[Stats], None] | None = None,
        stop: asyncio.Event | None = None,
        progress_every_s: float = 0.25,
    ) -> Stats:
        """Connect, send until the count or duration is reached or ``stop`` is set, drain, disconnect."""
        stop = stop or asyncio.Event()
        wall_start = time.time()
        n = len(self.devices)
        self._streams = [
            DeviceStream(d, i, n, p, self.options, self.run_id, wall_start)
            for i, (d, p) in enumerate(zip(self.devices, self.profiles, strict=True))
        ]
        await self.transport.open(self.devices)
        reporter = asyncio.create_task(self._report(progress, progress_every_s)) if progress else None
        try:
            await self._schedule(stop)
        finally:
            if reporter is not None:
                reporter.cancel()
            await self.transport.close()
        if progress is not None:
            progress(self.stats)
        return self.stats

    async def _report(self, progress: Callable[[Stats], None], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.stats.elapsed_s = asyncio.get_running_loop().time() - self._t0
            progress(self.stats)

    async def _schedule(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        rate, planned, limit = self.options.rate, self.stats.planned, self.options.duration_s
        out = _Dispatcher(self.transport, self.options, self.stats)
        streams = self._streams
        self._t0 = t0 = loop.time()
        k = 0
        while not stop.is_set() and (planned is None or k < planned):
            now = loop.time() - t0
            if limit is not None and now >= limit:
                break  # out of time, even when behind: the summary shows the shortfall
            due = int(now * rate) + 1  # slots 0..due-1 are due by now
            if planned is not None:
                due = min(due, planned)
            while k < due:
                if k % 512 == 0 and limit is not None and loop.time() - t0 >= limit:
                    break  # a long catch-up must not overrun the duration
                message = streams[k % len(streams)].next()
                k += 1
                self.stats.slots += 1
                if message is None:
                    self.stats.dropped += 1
                else:
                    await out.add(message)
            await out.flush(only_if_lingered=True)
            wake = min(k / rate, out.deadline - t0)
            pause = wake - (loop.time() - t0)
            if pause > 0:
                await asyncio.sleep(min(pause, 0.1))  # short naps, so a stop request is seen soon
        await out.flush()
        await out.drain(DRAIN_S)
        # k slots take k / rate seconds (the last one has its interval too): count mode agrees with duration
        rest = k / rate - (loop.time() - t0)
        if rest > 0 and not stop.is_set():
            await asyncio.sleep(rest)
        self.stats.elapsed_s = loop.time() - t0


class _Dispatcher:
    """Groups messages into batches for the transport and sends them with bounded concurrency."""

    def __init__(self, transport: Transport, options: RunOptions, stats: Stats) -> None:
        self._transport, self._stats = transport, stats
        self._max_batch = max(1, transport.max_batch)
        self._linger = options.linger_s
        self._gate = asyncio.Semaphore(options.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._batch: list[Message] = []
        self._since = 0.0

    @property
    def deadline(self) -> float:
        """Loop time by which the waiting batch must go (infinity when none waits)."""
        return self._since + self._linger if self._batch else math.inf

    async def add(self, message: Message) -> None:
        """Queue a message; a full batch goes at once."""
        if not self._batch:
            self._since = asyncio.get_running_loop().time()
        self._batch.append(message)
        if len(self._batch) >= self._max_batch:
            await self.flush()

    async def flush(self, only_if_lingered: bool = False) -> None:
        """Send the waiting batch (with ``only_if_lingered``, only once it has waited ``linger_s``)."""
        if not self._batch or (only_if_lingered and asyncio.get_running_loop().time() < self.deadline):
            return
        batch, self._batch = self._batch, []
        await self._gate.acquire()  # the back-pressure: the schedule waits while max_in_flight sends run
        self._stats.in_flight += len(batch)
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_s: float) -> None:
        """Wait for the sends in flight; those still running after ``grace_s`` are cancelled and counted."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def _send(self, messages: list[Message]) -> None:
        try:
            outcomes = await self._transport.send(messages)
        except asyncio.CancelledError:
            outcomes = [Failure("cancelled", "still in flight when the run ended")] * len(messages)
        except Exception as exc:  # a transport bug must not stop the run: it is counted and shown
            outcomes = [Failure(f"error {type(exc).__name__}", str(exc))] * len(messages)
        finally:
            self._gate.release()
            self._stats.in_flight -= len(messages)
        self._stats.record(outcomes)


async def simulate(
    devices: Sequence[Device],
    profiles: Profile | Mapping[str, Profile],
    transport: Transport,
    options: RunOptions,
    progress: Callable[[Stats], None] | None = None,
    stop: asyncio.Event | None = None,
) -> Stats:
    """Run one simulation and return its statistics."""
    return await Runner(devices, profiles, transport, options).run(progress, stop)
