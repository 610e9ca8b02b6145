"""Edge processing per device as configured, and the step that commits its output to the queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from iplus.access.edge.buffer import AlarmEvent, Buffer
from iplus.access.edge.config import AlarmConfig, DeviceConfig
from iplus.access.edge.model import Reading, Rejected, Scalar, is_number
from iplus.access.edge.processing import Deadband, ThresholdAlarm, TumblingWindow, WindowResult

ALARM_PREFIX = "alarm."


class _Property:
    __slots__ = ("deadband", "window")

    def __init__(self, window: TumblingWindow | None, deadband: Deadband | None) -> None:
        self.window = window
        self.deadband = deadband


class _Device:
    __slots__ = ("alarms", "props")

    def __init__(self, config: DeviceConfig, states: Mapping[tuple[str, str], bool]) -> None:
        self.props = {
            key: _Property(
                TumblingWindow(p.window.seconds, p.window.aggregate) if p.window else None,
                Deadband(p.deadband) if p.deadband is not None else None,
            )
            for key, p in config.properties.items()
        }
        self.alarms = [
            (a, ThresholdAlarm(a.op, a.threshold, a.hysteresis, states.get((config.id, a.name), False)))
            for a in config.alarms
        ]


class Processor:
    """Deadband, windows and alarms for every configured device; other devices pass unchanged.

    Alarms see the raw values (a deadband or a window must not hide a crossing). A property with a
    window yields its aggregate when the window closes, labelled by the window's start; the
    deadband, if any, then applies to what the window yields. Alarm changes travel as values
    ``alarm.<name>`` = true/false, in a message of their own at the reading's time.
    """

    def __init__(
        self,
        devices: Sequence[DeviceConfig],
        window_grace_s: float = 2.0,
        alarm_states: Mapping[tuple[str, str], bool] | None = None,
    ) -> None:
        states = alarm_states or {}
        self._devices = {d.id: _Device(d, states) for d in devices}
        self.window_grace_s = window_grace_s

    def process(self, reading: Reading) -> tuple[list[Reading], list[AlarmEvent]]:
        """The messages to queue for one reading, and the alarm events it caused."""
        device = self._devices.get(reading.device_id)
        if device is None:
            return [reading], []
        now_values: dict[str, Scalar] = {}
        alarm_values: dict[str, Scalar] = {}
        events: list[AlarmEvent] = []
        for spec, alarm in device.alarms:
            value = reading.values.get(spec.property)
            if value is None or not is_number(value):
                continue
            changed = alarm.update(float(value))
            if changed is not None:
                events.append(_event(reading, spec, changed, float(value)))
                alarm_values[ALARM_PREFIX + spec.name] = changed
        closed: dict[float, dict[str, Scalar]] = {}
        for key, value in reading.values.items():
            prop = device.props.get(key)
            if prop is None:
                now_values[key] = value
            elif prop.window is not None:
                result = prop.window.add(reading.ts, value)
                if result is not None and (prop.deadband is None or prop.deadband.offer(result.value)):
                    closed.setdefault(result.start, {})[key] = result.value
            elif prop.deadband is None or prop.deadband.offer(value):
                now_values[key] = value
        out = [Reading(reading.device_id, ts, values) for ts, values in sorted(closed.items())]
        if now_values:
            out.append(Reading(reading.device_id, reading.ts, now_values))
        if alarm_values:
            # a message of its own: a platform whose thing model lacks alarm.<name> refuses only this
            out.append(Reading(reading.device_id, reading.ts, alarm_values))
        return out, events

    def close_due(self, now: float) -> list[Reading]:
        """Messages of windows whose end plus grace ``now`` has passed."""
        return self._close(lambda w: w.close_due(now, self.window_grace_s))

    def flush(self) -> list[Reading]:
        """Messages of every open window, complete or not (on shutdown)."""
        return self._close(lambda w: w.flush())

    @property
    def late(self) -> int:
        """Values left out of windows because they came after their window had closed."""
        return sum(p.window.late for d in self._devices.values() for p in d.props.values() if p.window)

    def _close(self, close: Callable[[TumblingWindow], WindowResult | None]) -> list[Reading]:
        out: list[Reading] = []
        for device_id, device in self._devices.items():
            closed: dict[float, dict[str, Scalar]] = {}
            for key, prop in device.props.items():
                if prop.window is None:
                    continue
                result = close(prop.window)
                if result is not None and (prop.deadband is None or prop.deadband.offer(result.value)):
                    closed.setdefault(result.start, {})[key] = result.value
            out.extend(Reading(device_id, ts, values) for ts, values in sorted(closed.items()))
        return out


def _event(reading: Reading, spec: AlarmConfig, active: bool, value: float) -> AlarmEvent:
    return AlarmEvent(reading.device_id, spec.name, active, spec.property, value, reading.ts)


@dataclass(slots=True)
class Handled:
    """What one commit did: readings taken, repeats dropped, messages queued, alarm events."""

    accepted: int = 0
    repeats: int = 0
    queued: int = 0
    rejected: int = 0
    events: list[AlarmEvent] = field(default_factory=list)


class Pipeline:
    """Processes readings and commits the resulting messages, alarm record and dead letters at once.

    Runs on the buffer thread only, which also makes it the sole owner of the processor's state.
    If the commit fails the source is not acknowledged and sends again; the windows and deadbands
    have then already seen the values, which can only make them pass fewer repeats.
    """

    PRUNE_EVERY_S = 60.0

    def __init__(self, buffer: Buffer, processor: Processor, dedupe_window_s: float) -> None:
        self.buffer = buffer
        self.processor = processor
        self.dedupe_window_s = dedupe_window_s
        self._pruned = 0.0

    def handle(
        self, readings: Sequence[Reading], rejects: Sequence[Rejected], now: float, flush: bool = False
    ) -> Handled:
        """Process ``readings``, close windows due at ``now`` (all if ``flush``) and commit."""
        result = Handled(rejected=len(rejects))
        with self.buffer.transaction():
            fresh = self.buffer.first_seen(readings, now)
            result.accepted = len(fresh)
            result.repeats = len(readings) - len(fresh)
            out: list[Reading] = []
            for reading in fresh:
                messages, events = self.processor.process(reading)
                out.extend(messages)
                result.events.extend(events)
            out.extend(self.processor.flush() if flush else self.processor.close_due(now))
            result.queued = self.buffer.enqueue(out)
            self.buffer.record_alarms(result.events)
            self.buffer.reject_inputs(rejects, now)
            if now - self._pruned >= self.PRUNE_EVERY_S:
                self.buffer.forget_inputs_before(now - self.dedupe_window_s)
                self._pruned = now
        return result
