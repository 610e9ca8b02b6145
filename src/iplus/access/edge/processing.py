"""Edge processing primitives, pure and clock-free: deadband, tumbling window, threshold alarm."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

from iplus.access.edge.config import Aggregate, Op
from iplus.access.edge.model import Scalar, is_number

_UNSET = object()


class Deadband:
    """Pass a value only when it moved by more than ``width`` since the last value passed.

    The first value always passes. Values that are not numbers (strings, booleans) pass when they
    differ from the last one passed.
    """

    __slots__ = ("_last", "width")

    def __init__(self, width: float) -> None:
        self.width = width
        self._last: object = _UNSET

    def offer(self, value: Scalar) -> bool:
        """True when ``value`` should be forwarded; it then becomes the reference."""
        last = self._last
        if last is _UNSET:
            passed = True
        elif is_number(value) and is_number(last):
            passed = abs(value - last) > self.width  # type: ignore[operator]
        else:
            passed = value != last or type(value) is not type(last)
        if passed:
            self._last = value
        return passed


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One closed window: its bounds (seconds since the epoch), the aggregate and how many values it saw."""

    start: float
    end: float
    value: Scalar
    count: int


class _Acc:
    __slots__ = ("bucket", "count", "last", "maximum", "minimum", "numbers", "total")

    def __init__(self, bucket: int) -> None:
        self.bucket = bucket
        self.count = 0
        self.numbers = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.last: Scalar | None = None

    def add(self, value: Scalar) -> None:
        self.count += 1
        self.last = value
        if is_number(value):
            v = float(value)
            self.numbers += 1
            self.total += v
            self.minimum = min(self.minimum, v)
            self.maximum = max(self.maximum, v)


class TumblingWindow:
    """Fold values into windows of ``seconds`` aligned to the epoch, labelled by their start.

    A window closes when a value of a later window arrives, or by :meth:`close_due` once the clock
    passes its end plus a grace period. A value older than the open (or last closed) window is late:
    it is counted in ``late`` and left out, as stream processors do. avg, min, max and sum use the
    numbers only; a window with none yields nothing for them.
    """

    __slots__ = ("_closed", "_open", "aggregate", "late", "seconds")

    def __init__(self, seconds: float, aggregate: Aggregate) -> None:
        self.seconds = seconds
        self.aggregate = aggregate
        self.late = 0
        self._open: _Acc | None = None
        self._closed: int | None = None

    def add(self, ts: float, value: Scalar) -> WindowResult | None:
        """Add a value; return the window it closed, if any."""
        bucket = math.floor(ts / self.seconds)
        acc = self._open
        if acc is not None and bucket == acc.bucket:
            acc.add(value)
            return None
        newest = acc.bucket if acc is not None else self._closed
        if newest is not None and bucket < newest:
            self.late += 1
            return None
        if newest is not None and acc is None and bucket == newest:
            self.late += 1  # its window was already closed and sent
            return None
        closed = self._close() if acc is not None else None
        self._open = _Acc(bucket)
        self._open.add(value)
        return closed

    def close_due(self, now: float, grace: float) -> WindowResult | None:
        """Close the open window if ``now`` is past its end plus ``grace``."""
        acc = self._open
        if acc is not None and now >= (acc.bucket + 1) * self.seconds + grace:
            return self._close()
        return None

    def flush(self) -> WindowResult | None:
        """Close the open window now, complete or not (on shutdown)."""
        return self._close() if self._open is not None else None

    def _close(self) -> WindowResult | None:
        acc = self._open
        assert acc is not None
        self._open = None
        self._closed = acc.bucket
        value = _fold(acc, self.aggregate)
        if value is None:
            return None
        start = acc.bucket * self.seconds
        return WindowResult(start, start + self.seconds, value, acc.count)


def _fold(acc: _Acc, aggregate: Aggregate) -> Scalar | None:
    if aggregate is Aggregate.COUNT:
        return acc.count
    if aggregate is Aggregate.LAST:
        return acc.last
    if acc.numbers == 0:
        return None
    if aggregate is Aggregate.AVG:
        return acc.total / acc.numbers
    if aggregate is Aggregate.SUM:
        return acc.total
    return acc.minimum if aggregate is Aggregate.MIN else acc.maximum


_OPS: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.LT: operator.lt,
    Op.GE: operator.ge,
    Op.LE: operator.le,
}


class ThresholdAlarm:
    """A threshold alarm with hysteresis, decided at the edge without the cloud.

    It raises when ``value op threshold`` holds. It clears only once the value has left the band:
    for ``>``/``>=`` when ``value op (threshold - hysteresis)`` no longer holds, for ``<``/``<=`` when
    ``value op (threshold + hysteresis)`` no longer holds. With hysteresis 0 it clears as soon as
    the condition is false.
    """

    __slots__ = ("_clear_at", "_cmp", "active", "op", "threshold")

    def __init__(self, op: Op, threshold: float, hysteresis: float = 0.0, active: bool = False) -> None:
        self.op = op
        self.threshold = threshold
        self.active = active
        self._cmp = _OPS[op]
        above = op in (Op.GT, Op.GE)
        self._clear_at = threshold - hysteresis if above else threshold + hysteresis

    def update(self, value: float) -> bool | None:
        """Feed a value; True when the alarm raised, False when it cleared, None when unchanged."""
        if not self.active and self._cmp(value, self.threshold):
            self.active = True
            return True
        if self.active and not self._cmp(value, self._clear_at):
            self.active = False
            return False
        return None
