"""Faults that corrupt a property's values, and dropouts that keep whole messages from being sent.

A fault or a gap happens in *windows* of simulated time: one window at ``start_s`` seconds after the
run starts, or windows that begin at the events of a Poisson process of ``rate_per_h`` events per
simulated hour. A window covers the samples in ``[begin, begin + duration_s)``; a window of zero
duration covers exactly the first sample at or after its beginning (a one-sample spike).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from iplus.access.sim.signals import HOUR_S, STRICT, FloatArray

BoolArray = npt.NDArray[np.bool_]
MaskStep = Callable[[FloatArray], BoolArray]
FaultStep = Callable[[FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True, kw_only=True)
class When:
    """When something happens: once at ``start_s`` after the run starts, or at ``rate_per_h`` on average."""

    start_s: float | None = None
    duration_s: float = 0.0
    rate_per_h: float | None = None
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if (self.start_s is None) == (self.rate_per_h is None):
            raise ValueError("give exactly one of start_s (one window) or rate_per_h (Poisson windows)")
        if self.rate_per_h is not None and not self.rate_per_h > 0:
            raise ValueError("rate_per_h must be > 0")
        if not self.duration_s >= 0:
            raise ValueError("duration_s must be >= 0")

    def windows(self, rng: np.random.Generator, origin: float) -> MaskStep:
        """A step telling, for ascending sample times, which samples fall in a window."""
        pending: list[tuple[float, float]] = []
        if self.start_s is not None:
            begin = origin + self.start_s
            pending.append((begin, begin + self.duration_s))
        mean_gap = HOUR_S / self.rate_per_h if self.rate_per_h is not None else math.inf
        next_event = [origin + rng.exponential(mean_gap) if self.rate_per_h is not None else math.inf]

        def step(t: FloatArray) -> BoolArray:
            mask = np.zeros(t.shape, dtype=np.bool_)
            if t.size == 0:
                return mask
            last = float(t[-1])
            # draw events only up to this chunk's end, so chunked and one-shot runs draw the same numbers
            while next_event[0] <= last:
                pending.append((next_event[0], next_event[0] + self.duration_s))
                next_event[0] += rng.exponential(mean_gap)
            still: list[tuple[float, float]] = []
            for begin, end in pending:
                if end > begin:
                    mask |= (t >= begin) & (t < end)
                    if end > last:
                        still.append((begin, end))
                    continue
                i = int(np.searchsorted(t, begin, side="left"))
                if i < t.size:
                    mask[i] = True
                else:
                    still.append((begin, end))
            pending[:] = still
            return mask

        return step


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive True values."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


@dataclass(frozen=True, kw_only=True)
class Stuck(When):
    """The sensor freezes: it repeats ``value``, or by default the last value before the window."""

    kind: Literal["stuck"] = "stuck"
    value: float | None = None

    def start(self, rng: np.random.Generator, origin: float) -> FaultStep:
        """The step: replace each run of windowed samples by the held value."""
        windows = self.windows(rng, origin)
        carry: list[float | None] = [None, None]  # [last input value, value held at the end of the chunk]

        def step(t: FloatArray, x: FloatArray) -> FloatArray:
            mask = windows(t)
            y = x.copy()
            held: float | None = None
            for a, b in _runs(mask):
                if self.value is not None:
                    held = self.value
                elif a > 0:
                    held = float(x[a - 1])
                elif carry[1] is not None:
                    held = carry[1]  # the freeze goes on from the previous chunk
                else:
                    held = carry[0] if carry[0] is not None else float(x[0])
                y[a:b] = held
            if x.size:
                carry[0] = float(x[-1])
                carry[1] = held if mask[-1] else None
            return y

        return step


@dataclass(frozen=True, kw_only=True)
class Spike(When):
    """A short excursion: ``magnitude`` is added to the windowed samples (by default one sample)."""

    kind: Literal["spike"] = "spike"
    magnitude: float = 0.0

    def start(self, rng: np.random.Generator, origin: float) -> FaultStep:
        """The step: add ``magnitude`` inside the windows."""
        windows = self.windows(rng, origin)
        return lambda t, x: np.where(windows(t), x + self.magnitude, x)


@dataclass(frozen=True, kw_only=True)
class Offset(When):
    """A calibration step: ``magnitude`` is added for the length of the window."""

    kind: Literal["offset"] = "offset"
    magnitude: float = 0.0

    def start(self, rng: np.random.Generator, origin: float) -> FaultStep:
        """The step: add ``magnitude`` inside the windows."""
        windows = self.windows(rng, origin)
        return lambda t, x: np.where(windows(t), x + self.magnitude, x)


@dataclass(frozen=True, kw_only=True)
class OutOfRange(When):
    """A broken reading: the windowed samples become ``value`` (pick one outside the valid range)."""

    kind: Literal["out_of_range"] = "out_of_range"
    value: float = -9999.0

    def start(self, rng: np.random.Generator, origin: float) -> FaultStep:
        """The step: replace the windowed samples by ``value``."""
        windows = self.windows(rng, origin)
        return lambda t, x: np.where(windows(t), self.value, x)


Fault = Stuck | Spike | Offset | OutOfRange


@dataclass(frozen=True, kw_only=True)
class Gap(When):
    """A stretch of simulated time in which the device sends nothing (e.g. it is offline)."""


@dataclass(frozen=True, kw_only=True)
class Dropout:
    """Messages not sent by design: each one independently with probability ``fraction``, and all in gaps."""

    fraction: float = 0.0
    gaps: tuple[Gap, ...] = ()
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError("dropout fraction must be in [0, 1)")

    def start(self, rng: np.random.Generator, origin: float) -> MaskStep:
        """A step telling, per message time, whether the message is sent (True) or dropped."""
        children = rng.spawn(1 + len(self.gaps))
        coin = children[0]
        gap_steps = [gap.windows(child, origin) for gap, child in zip(self.gaps, children[1:], strict=True)]

        def step(t: FloatArray) -> BoolArray:
            keep: BoolArray = coin.random(t.shape) >= self.fraction
            for gap in gap_steps:
                keep &= ~gap(t)
            return keep

        return step
