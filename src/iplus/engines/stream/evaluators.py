"""Compiled rules: one evaluator per rule, holding that rule's state per device or group."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from iplus.engines.stream.detector import DetectorFactory, OnlineDetector
from iplus.engines.stream.expr import compile_expression
from iplus.engines.stream.model import (
    AnomalyRule,
    DerivedRule,
    SequenceRule,
    ThresholdRule,
    Where,
    WindowRule,
)
from iplus.engines.stream.windows import Windows, value_of

US = 1_000_000
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
# device id -> (type id, type name, tags); filled by the platform
DeviceInfo = tuple[str, str, frozenset[str]]


@dataclass(slots=True)
class Signal:
    """What a rule says about a subject (a device or a group): raise or clear, at an event time."""

    org_id: str
    rule_id: str
    kind: str  # "raise" | "clear"
    subject: str
    ts: int  # microseconds since the epoch
    value: float | None
    detail: str


class Target:
    """Whether a device is one a rule applies to, cached per device."""

    __slots__ = ("cache", "devices", "where")

    def __init__(self, where: Where, devices: dict[str, DeviceInfo]) -> None:
        self.where = where
        self.devices = devices
        self.cache: dict[str, bool] = {}

    def __call__(self, device_id: str) -> bool:
        """Whether ``device_id`` matches."""
        hit = self.cache.get(device_id)
        if hit is None:
            found = self._match(device_id)
            if found is None:
                return False  # not in the directory yet: asked again once the platform knows it
            hit = self.cache[device_id] = found
        return hit

    def _match(self, device_id: str) -> bool | None:
        where = self.where
        if where.devices and device_id not in where.devices:
            return False
        if where.type is None and not where.tags:
            return True
        info = self.devices.get(device_id)
        if info is None:
            return None
        if where.type is not None and where.type not in (info[0], info[1]):
            return False
        return all(tag in info[2] for tag in where.tags)


class Evaluator:
    """A compiled rule; ``active`` holds the subjects it currently alarms."""

    kind = ""

    def __init__(self, org_id: str, rule_id: str, target: Target | None) -> None:
        self.org_id = org_id
        self.rule_id = rule_id
        self.target = target
        self.active: set[str] = set()

    def keys(self) -> set[str]:
        """The property keys this rule reads."""
        raise NotImplementedError

    def feed(self, device: str, key: str, ts: int, value: float, in_order: bool, out: list[Signal]) -> None:
        """Take one numeric reading; append any signal to ``out``."""
        raise NotImplementedError

    def forget(self, subject: str) -> None:
        """Drop the subject's alarm state (its alarm was cleared by hand)."""
        self.active.discard(subject)


class ThresholdEval(Evaluator):
    """``key op value`` with hysteresis (clear past ``clear``) and an optional hold time."""

    kind = "threshold"

    def __init__(self, org_id: str, rule_id: str, rule: ThresholdRule, target: Target | None) -> None:
        super().__init__(org_id, rule_id, target)
        self.rule = rule
        self.key = rule.key
        self.rop = OPS[rule.op]
        self.rv = rule.value
        # the clear test: leave the raised state only once the value is past the clear value
        # (strictly), or, without one, as soon as the raise condition no longer holds
        if rule.clear is None:
            raise_op = self.rop
            self.cop: Callable[[float, float], bool] = lambda v, c: not raise_op(v, c)
            self.cv = rule.value
        else:
            self.cop = operator.lt if rule.op in (">", ">=") else operator.gt
            self.cv = rule.clear
        self.hold = int(rule.for_s * US)
        self.pending: dict[str, int] = {}

    def keys(self) -> set[str]:
        """The key tested."""
        return {self.key}

    def feed(self, device: str, key: str, ts: int, value: float, in_order: bool, out: list[Signal]) -> None:
        """Raise on the way up (after the hold), clear on the way down past the clear value."""
        if not in_order:
            return
        if device in self.active:
            if self.cop(value, self.cv):
                self.active.discard(device)
                out.append(self._signal("clear", device, ts, value))
        elif self.rop(value, self.rv):
            if self.hold:
                since = self.pending.setdefault(device, ts)
                if ts - since < self.hold:
                    return
                del self.pending[device]
            self.active.add(device)
            out.append(self._signal("raise", device, ts, value))
        elif self.hold:
            self.pending.pop(device, None)

    def forget(self, subject: str) -> None:
        """Forget the alarm and any hold in progress."""
        super().forget(subject)
        self.pending.pop(subject, None)

    def _signal(self, kind: str, device: str, ts: int, value: float) -> Signal:
        rule = self.rule
        if kind == "raise":
            detail = f"{rule.key} = {value:g} {rule.op} {rule.value:g}"
        else:
            detail = f"{rule.key} = {value:g}, back past {self.cv:g}"
        return Signal(self.org_id, self.rule_id, kind, device, ts, value, detail)


class WindowEval(Evaluator):
    """Window aggregates per device or per group; each closing window is tested once."""

    kind = "window"

    def __init__(self, org_id: str, rule_id: str, rule: WindowRule, target: Target | None) -> None:
        super().__init__(org_id, rule_id, target)
        self.rule = rule
        self.key = rule.key
        self.size = int(rule.size_s * US)
        self.slide = int((rule.slide_s or rule.size_s) * US)
        self.lateness = int(rule.lateness_s * US)
        self.op = OPS[rule.op]
        self.group = f"group:{rule.name}" if rule.group_by == "group" else None
        self.windows: dict[str, Windows] = {}
        # every closed window's result, for tests and live views: (subject, start, end, aggregate)
        self.on_result: Callable[[str, int, int, float], None] | None = None

    def keys(self) -> set[str]:
        """The key aggregated."""
        return {self.key}

    @property
    def late(self) -> int:
        """Readings dropped because all their windows had closed."""
        return sum(w.late for w in self.windows.values())

    def feed(self, device: str, key: str, ts: int, value: float, in_order: bool, out: list[Signal]) -> None:
        """Fold the reading in; test every window the watermark closes."""
        subject = self.group or device
        windows = self.windows.get(subject)
        if windows is None:
            windows = self.windows[subject] = Windows(self.size, self.slide, self.lateness)
        windows.add(ts, value)
        if windows.watermark >= windows.due:
            self._close(subject, windows, out)

    def _close(self, subject: str, windows: Windows, out: list[Signal]) -> None:
        rule = self.rule
        for start, acc in windows.closed():
            result = value_of(acc, rule.aggregate)
            end = start + self.size
            if self.on_result is not None:
                self.on_result(subject, start, end, result)
            if self.op(result, rule.value):
                self.active.add(subject)
                what = f"{rule.aggregate}({rule.key}) over {rule.size_s:g} s"
                detail = f"{what} = {result:g} {rule.op} {rule.value:g}"
                out.append(Signal(self.org_id, self.rule_id, "raise", subject, end, result, detail))
            elif subject in self.active:
                self.active.discard(subject)
                detail = f"{rule.aggregate}({rule.key}) over {rule.size_s:g} s = {result:g}"
                out.append(Signal(self.org_id, self.rule_id, "clear", subject, end, result, detail))


class SequenceEval(Evaluator):
    """Step A, then B (then C) on one device within a time span; the latest start is kept per stage."""

    kind = "sequence"

    def __init__(self, org_id: str, rule_id: str, rule: SequenceRule, target: Target | None) -> None:
        super().__init__(org_id, rule_id, target)
        self.rule = rule
        self.steps = [(s.key, OPS[s.op], s.value) for s in rule.steps]
        self.within = int(rule.within_s * US)
        # per device: start time of the newest partial match that has completed i + 1 steps
        self.partial: dict[str, list[int | None]] = {}

    def keys(self) -> set[str]:
        """Every step's key."""
        return {s.key for s in self.rule.steps}

    def feed(self, device: str, key: str, ts: int, value: float, in_order: bool, out: list[Signal]) -> None:
        """Advance partial matches; a reading advances each partial match by at most one step."""
        if not in_order:
            return
        stages = self.partial.get(device)
        if stages is None:
            stages = self.partial[device] = [None] * (len(self.steps) - 1)
        last = len(self.steps) - 1
        # from the furthest stage down, so one reading cannot complete two steps at once
        for i in range(last, 0, -1):
            step_key, op, threshold = self.steps[i]
            start = stages[i - 1]
            if start is None:
                continue
            if ts - start > self.within:
                stages[i - 1] = None  # too old to complete any more
                continue
            if step_key == key and op(value, threshold):
                if i == last:
                    stages[i - 1] = None
                    names = " then ".join(f"{k} {o} {v:g}" for k, o, v in self._text())
                    span = (ts - start) / US
                    detail = f"{names} within {span:g} s"
                    out.append(Signal(self.org_id, self.rule_id, "raise", device, ts, value, detail))
                else:
                    stages[i] = start
                    stages[i - 1] = None
        step_key, op, threshold = self.steps[0]
        if step_key == key and op(value, threshold):
            stages[0] = ts

    def _text(self) -> list[tuple[str, str, float]]:
        return [(s.key, s.op, s.value) for s in self.rule.steps]


class AnomalyEval(Evaluator):
    """One online detector per device; raise when its score reaches the threshold."""

    kind = "anomaly"

    def __init__(
        self, org_id: str, rule_id: str, rule: AnomalyRule, target: Target | None, factory: DetectorFactory
    ) -> None:
        super().__init__(org_id, rule_id, target)
        self.rule = rule
        self.factory = factory
        factory(org_id, rule.model)  # an unknown model reference fails here, when the rule is loaded
        self.detectors: dict[str, OnlineDetector] = {}
        self.learned: dict[str, int] = {}

    def keys(self) -> set[str]:
        """The key scored."""
        return {self.rule.key}

    def feed(self, device: str, key: str, ts: int, value: float, in_order: bool, out: list[Signal]) -> None:
        """Score, then learn; raise at or above the threshold, clear below ``clear`` (default threshold)."""
        if not in_order:
            return
        detector = self.detectors.get(device)
        if detector is None:
            detector = self.detectors[device] = self.factory(self.org_id, self.rule.model)
        seen = self.learned.get(device, 0)
        score = detector.score_one(value)
        detector.learn_one(value)
        self.learned[device] = seen + 1
        if seen < self.rule.warmup:
            return
        rule = self.rule
        if score >= rule.threshold:
            self.active.add(device)
            detail = f"{rule.key} = {value:g} scored {score:.3g} >= {rule.threshold:g} ({rule.model})"
            out.append(Signal(self.org_id, self.rule_id, "raise", device, ts, value, detail))
            return
        clear = rule.threshold if rule.clear is None else rule.clear
        if score < clear and device in self.active:
            # without a clear level the alarm ends with the anomaly, as a threshold rule's does
            self.active.discard(device)
            detail = f"{rule.key} = {value:g} scored {score:.3g} < {clear:g}"
            out.append(Signal(self.org_id, self.rule_id, "clear", device, ts, value, detail))


class DerivedEval:
    """A calculated property: recomputed whenever one of its inputs arrives, once all are known."""

    def __init__(self, rule_id: str, rule: DerivedRule, target: Target | None) -> None:
        self.rule_id = rule_id
        self.rule = rule
        self.target = target
        self.output = rule.output
        self.expression = compile_expression(rule.expression)
        self.inputs = self.expression.inputs
        self.latest: dict[str, dict[str, float]] = {}
        self.errors = 0

    def compute(self, device: str, values: dict[str, float]) -> float | None:
        """The new value for ``device`` given its new readings, or None (inputs missing, math error)."""
        known = self.latest.get(device)
        if known is None:
            known = self.latest[device] = {}
        for key in self.inputs:
            if key in values:
                known[key] = values[key]
        if len(known) < len(self.inputs):
            return None
        try:
            result = self.expression.evaluate(known)
        except (ArithmeticError, ValueError, TypeError):
            self.errors += 1
            return None
        return result if result == result and abs(result) != float("inf") else None
