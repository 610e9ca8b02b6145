"""Online anomaly detectors built on river; each scores a value before learning it.

They satisfy the stream engine's ``OnlineDetector`` protocol structurally
(``score_one(value) -> float`` then ``learn_one(value)``), so the stream engine needs no import
of this module: it is handed a factory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from iplus.core.errors import InvalidInput
from iplus.engines.ai.params import Params, check_work

ROBUST_ZSCORE = "robust-zscore"
HALF_SPACE_TREES = "half-space-trees"
KINDS = (ROBUST_ZSCORE, HALF_SPACE_TREES)
# Iglewicz & Hoaglin (1993): a modified z-score above 3.5 marks a potential outlier; fixed a priori
ZSCORE_THRESHOLD = 3.5
# normal-consistency constant: IQR / 1.349 estimates the standard deviation of a normal sample
IQR_TO_SIGMA = 1.349
# bounds: half-space-trees' leaves (memory, build time) and a replay's tree steps (about a minute)
MAX_HST_LEAVES = 2**15
MAX_HST_REPLAY_WORK = 1e7


class Detector(Protocol):
    """Anything with ``score_one`` (before learning) and ``learn_one``."""

    def score_one(self, value: float) -> float:
        """Anomaly score of this value, before learning it."""
        ...

    def learn_one(self, value: float) -> None:
        """Learn the value."""
        ...


class RobustZScore:
    """Distance from the rolling median in robust standard deviations (rolling IQR / 1.349).

    Median and IQR come from river's rolling quantiles over the last ``window`` values; the
    score is 0 until ``warmup`` values have been learned. ``min_scale`` keeps a perfectly flat
    history from dividing by zero.
    """

    def __init__(self, window: int = 168, warmup: int = 24, min_scale: float = 1e-6) -> None:
        from river import stats

        self.window = window
        self.warmup = warmup
        self.min_scale = min_scale
        self._median = stats.RollingQuantile(0.5, window_size=window)
        self._iqr = stats.RollingIQR(window_size=window, q_inf=0.25, q_sup=0.75)
        self._seen = 0

    def score_one(self, value: float) -> float:
        """Robust z-score of ``value`` against the window learned so far."""
        if self._seen < self.warmup or not math.isfinite(value):
            return 0.0
        median, iqr = self._median.get(), self._iqr.get()
        if median is None or iqr is None:
            return 0.0
        scale = max(float(iqr) / IQR_TO_SIGMA, self.min_scale)
        return abs(value - float(median)) / scale

    def learn_one(self, value: float) -> None:
        """Add ``value`` to the rolling window."""
        if not math.isfinite(value):
            return
        self._median.update(value)
        self._iqr.update(value)
        self._seen += 1


class HalfSpaceTreesDetector:
    """river's Half-Space Trees on a min-max scaled value; scores lie in [0, 1]."""

    def __init__(self, n_trees: int = 25, height: int = 8, window_size: int = 168, seed: int = 42) -> None:
        from river import anomaly, preprocessing

        self._model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )

    def score_one(self, value: float) -> float:
        """HST anomaly score of ``value``."""
        if not math.isfinite(value):
            return 0.0
        return float(self._model.score_one({"x": value}))

    def learn_one(self, value: float) -> None:
        """Learn ``value``."""
        if math.isfinite(value):
            self._model.learn_one({"x": value})


def detector_params(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The complete, checked parameters of an online detector kind (defaults filled in)."""
    p = Params(params, kind)
    if kind == ROBUST_ZSCORE:
        p.int("window", 168, 3, 100_000)
        p.int("warmup", 24, 1, 100_000)
        p.float("min_scale", 1e-6, 1e-12, 1e12)
        p.float("threshold", ZSCORE_THRESHOLD, 0.0, 1e6)
    elif kind == HALF_SPACE_TREES:
        n_trees = p.int("n_trees", 25, 1, 500)
        height = p.int("height", 8, 1, 20)
        # river builds every tree complete up front: n_trees x 2^height leaves, in Python objects
        check_work(kind, n_trees * 2**height, MAX_HST_LEAVES, "n_trees x 2^height")
        p.int("window_size", 168, 2, 100_000)
        p.int("seed", 42, 0, 2**31 - 1)
        p.float("threshold", 0.9, 0.0, 1.0)
    else:
        raise InvalidInput(f"unknown online detector {kind!r}: use {', '.join(KINDS)}")
    return p.done()


def online_detector(reference: str, params: Mapping[str, Any] | None = None) -> Detector:
    """A new detector of kind ``reference`` (``robust-zscore`` or ``half-space-trees``)."""
    full = detector_params(reference, params)
    full.pop("threshold")
    if reference == ROBUST_ZSCORE:
        return RobustZScore(**full)
    return HalfSpaceTreesDetector(**full)


def factory(params_by_reference: Mapping[str, tuple[str, Mapping[str, Any]]]) -> Callable[[str], Detector]:
    """A detector factory: a reference names a kind, or a model listed as (kind, params)."""

    def make(reference: str) -> Detector:
        if reference in params_by_reference:
            kind, params = params_by_reference[reference]
            return online_detector(kind, params)
        return online_detector(reference, {})

    return make


def threshold_of(kind: str, params: Mapping[str, Any] | None) -> float:
    """The alarm threshold of a detector's parameters (its default when not given)."""
    return float(detector_params(kind, params)["threshold"])


def run_detector(detector: Detector, values: list[float]) -> list[float]:
    """Score each value before learning it, as the stream engine does."""
    scores = []
    for v in values:
        scores.append(detector.score_one(v))
        detector.learn_one(v)
    return scores
