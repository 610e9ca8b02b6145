"""The anomaly-detector interface the stream engine scores readings with (built by the AI engine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class OnlineDetector(Protocol):
    """An online anomaly detector over one numeric series."""

    def score_one(self, value: float) -> float:
        """Anomaly score of ``value``, computed before learning it."""
        ...

    def learn_one(self, value: float) -> None:
        """Update the detector with ``value``."""
        ...


# (organisation id, model reference such as "halfspace" or a registry id) -> a new detector; the
# organisation is given so that a rule can only score with its own organisation's models
DetectorFactory = Callable[[str, str], OnlineDetector]
