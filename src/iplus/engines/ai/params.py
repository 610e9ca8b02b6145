"""Checked reading of training parameters: unknown names and out-of-range values are input errors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.ai.metrics import FloatArray


class Params:
    """A parameter mapping read with defaults and bounds; ``done`` refuses names nobody read."""

    def __init__(self, raw: Mapping[str, Any] | None, what: str) -> None:
        self.raw = dict(raw or {})
        self.what = what
        self.used: dict[str, Any] = {}

    def int(self, name: str, default: int, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidInput(f"{self.what}: {name} must be a whole number from {lo} to {hi}")
        self.used[name] = value
        return value

    def float(self, name: str, default: float, lo: float, hi: float) -> float:
        """A finite number in [lo, hi]."""
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{self.what}: {name} must be a number")
        value = float(value)
        if not math.isfinite(value) or not lo <= value <= hi:
            raise InvalidInput(f"{self.what}: {name} must be between {lo} and {hi}")
        self.used[name] = value
        return value

    def choice(self, name: str, default: str, options: Sequence[str]) -> str:
        """One of ``options``."""
        value = self.raw.get(name, default)
        if value not in options:
            raise InvalidInput(f"{self.what}: {name} must be one of {', '.join(options)}")
        self.used[name] = value
        return str(value)

    def done(self) -> dict[str, Any]:
        """The parameters as used (defaults filled in); unknown names are refused."""
        unknown = sorted(set(self.raw) - set(self.used))
        if unknown:
            raise InvalidInput(f"{self.what}: unknown parameters {', '.join(unknown)}")
        return dict(self.used)


def series(values: Sequence[float] | FloatArray, what: str, minimum: int) -> FloatArray:
    """Values as a finite float array of at least ``minimum`` items."""
    try:
        y = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: values must be numbers") from exc
    if y.ndim != 1:
        raise InvalidInput(f"{what}: values must be a flat list of numbers")
    if not np.all(np.isfinite(y)):
        raise InvalidInput(f"{what}: values must be finite numbers")
    if y.size < minimum:
        raise InvalidInput(f"{what}: needs at least {minimum} values, got {y.size}")
    return y


def check_work(what: str, work: float, limit: float, measure: str) -> None:
    """Refuse a training whose size (``work``, e.g. values x lags) passes ``limit``: bounded time, memory."""
    if work > limit:
        raise InvalidInput(
            f"{what}: {measure} is {work:.3g}, more than the {limit:.3g} allowed; "
            "narrow the time range or lower the parameters"
        )
