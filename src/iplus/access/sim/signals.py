"""Signal components of a simulated property: daily cycle, noise, drift, random walk, Markov states.

Every component is a frozen dataclass (so a profile is plain data) whose ``start(rng, origin)`` returns a
*step*: a function from an ascending array of simulated times (seconds since the Unix epoch) to the
component's values at those times. A step keeps whatever state it needs between calls, so a series
generated in chunks equals the same series generated at once. ``origin`` is the simulated time the
run starts at; components that count time from the start (drift, fault windows) measure from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict

FloatArray = npt.NDArray[np.float64]
Scalar = str | int | bool
Step = Callable[[FloatArray], FloatArray]
StateStep = Callable[[FloatArray], list[Scalar]]

DAY_S = 86_400.0
HOUR_S = 3_600.0
STRICT = ConfigDict(extra="forbid")


class Component(Protocol):
    """A numeric signal component: ``start`` gives the step that evaluates it at ascending times."""

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """A fresh step drawing from ``rng``, with the run starting at simulated time ``origin``."""
        ...


@dataclass(frozen=True, kw_only=True)
class Constant:
    """A constant level."""

    kind: Literal["constant"] = "constant"
    value: float = 0.0
    __pydantic_config__ = STRICT

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: ``value`` at every time."""
        return lambda t: np.full(t.shape, self.value)


@dataclass(frozen=True, kw_only=True)
class Daily:
    """A 24 h sinusoid ``mean + amplitude * cos(2 pi (t - phase_h hours) / 24 h)``, peaking at phase_h UTC."""

    kind: Literal["daily"] = "daily"
    mean: float = 0.0
    amplitude: float = 1.0
    phase_h: float = 0.0
    __pydantic_config__ = STRICT

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: the closed form, stateless."""
        omega = 2.0 * math.pi / DAY_S
        shift = self.phase_h * HOUR_S
        # reduce modulo a day before the cosine: epoch seconds are ~1e9 and the reduction keeps the precision
        return lambda t: self.mean + self.amplitude * np.cos(omega * np.mod(t - shift, DAY_S))


@dataclass(frozen=True, kw_only=True)
class Noise:
    """Independent Gaussian noise with standard deviation ``sigma`` and mean zero."""

    kind: Literal["noise"] = "noise"
    sigma: float = 1.0
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError("noise sigma must be >= 0")

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: one normal draw per sample."""
        return lambda t: rng.normal(0.0, self.sigma, t.shape)


@dataclass(frozen=True, kw_only=True)
class Drift:
    """A linear drift of ``per_day`` units per simulated day, zero at the start of the run."""

    kind: Literal["drift"] = "drift"
    per_day: float = 0.0
    __pydantic_config__ = STRICT

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: ``per_day * (t - origin) / 1 day``."""
        return lambda t: self.per_day * (t - origin) / DAY_S


@dataclass(frozen=True, kw_only=True)
class RandomWalk:
    """A Gaussian random walk from ``initial``; an increment over dt has variance ``sigma_h**2 * dt / 1 h``.

    Scaling the increments by the time step makes the walk look the same whatever the message rate.
    ``low``/``high`` reflect the walk back into a band, so a long run does not wander off.
    """

    kind: Literal["random_walk"] = "random_walk"
    sigma_h: float = 1.0
    initial: float = 0.0
    low: float | None = None
    high: float | None = None
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if not self.sigma_h >= 0:
            raise ValueError("random_walk sigma_h must be >= 0")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError("random_walk low must be below high")

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: cumulative sums of scaled normal increments, carried across calls."""
        last: list[float] = []  # [time, value] of the previous sample, empty before the first

        def step(t: FloatArray) -> FloatArray:
            if t.size == 0:
                return np.empty(0)
            if last:
                dt = np.diff(t, prepend=last[0])
                base = last[1]
            else:
                dt = np.diff(t, prepend=t[0])  # the first sample is the initial value itself
                base = self.initial
            increments = self.sigma_h * np.sqrt(dt / HOUR_S) * rng.standard_normal(t.size)
            if self.low is None and self.high is None:
                values = base + np.cumsum(increments)
            else:
                values = self._reflect(base, increments)
            last[:] = [float(t[-1]), float(values[-1])]
            return values

        return step

    def _reflect(self, base: float, increments: FloatArray) -> FloatArray:
        """Walk step by step, mirroring at the bounds (a loop, but only for bounded walks)."""
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        out = np.empty(increments.size)
        value = base
        for i, inc in enumerate(increments.tolist()):
            value += inc
            if value > hi:
                value = hi - (value - hi)
            if value < lo:
                value = lo + (lo - value)
            value = min(max(value, lo), hi)  # a step larger than the band stops at the edge
            out[i] = value
        return out


@dataclass(frozen=True, kw_only=True)
class Markov:
    """A continuous-time Markov chain over ``states`` (strings, integers or booleans).

    The chain stays in state i for an exponential time of mean ``dwell_s[i]`` (simulated seconds),
    then jumps to state j with probability ``transitions[i][j]`` (default: uniformly to another
    state). Working in continuous time keeps the behaviour independent of the message rate.
    """

    states: tuple[Scalar, ...]
    dwell_s: tuple[float, ...]
    transitions: tuple[tuple[float, ...], ...] | None = None
    initial: int = 0
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        n = len(self.states)
        if n < 2 or len(self.dwell_s) != n:
            raise ValueError("a state property needs two or more states and one dwell_s per state")
        if not all(d > 0 for d in self.dwell_s):
            raise ValueError("every dwell_s must be > 0")
        if not 0 <= self.initial < n:
            raise ValueError(f"initial must be a state index in 0..{n - 1}")
        if self.transitions is not None:
            rows = self.transitions
            if len(rows) != n or any(len(r) != n for r in rows):
                raise ValueError(f"transitions must be an {n}x{n} matrix")
            for i, row in enumerate(rows):
                if row[i] != 0 or any(p < 0 for p in row) or not math.isclose(sum(row), 1.0, abs_tol=1e-9):
                    raise ValueError(f"transitions row {i} must be >= 0, sum to 1 and be 0 on the diagonal")

    def jump_matrix(self) -> FloatArray:
        """Jump probabilities between states, the default being uniform over the others."""
        n = len(self.states)
        if self.transitions is not None:
            return np.asarray(self.transitions, dtype=np.float64)
        return (np.ones((n, n)) - np.eye(n)) / (n - 1)

    def start(self, rng: np.random.Generator, origin: float) -> StateStep:
        """The step: the state held at each sample time, simulated exactly with exponential dwells."""
        jumps = self.jump_matrix()
        state = [self.initial]
        next_jump = [origin + rng.exponential(self.dwell_s[self.initial])]

        def step(t: FloatArray) -> list[Scalar]:
            out: list[Scalar] = []
            for now in t.tolist():
                while next_jump[0] <= now:
                    current = int(rng.choice(len(self.states), p=jumps[state[0]]))
                    state[0] = current
                    next_jump[0] += rng.exponential(self.dwell_s[current])
                out.append(self.states[state[0]])
            return out

        return step


def sample(component: Component, t: npt.ArrayLike, seed: int = 0, origin: float | None = None) -> FloatArray:
    """The component's values at times ``t`` in one call (``origin`` defaults to the first time)."""
    times = np.asarray(t, dtype=np.float64)
    start = float(times[0]) if origin is None and times.size else (origin or 0.0)
    return component.start(np.random.default_rng(seed), start)(times)
