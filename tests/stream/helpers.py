"""Helpers for stream tests: build an engine from YAML, feed readings, a z-score detector."""

from __future__ import annotations

import math
from collections.abc import Sequence

from iplus.engines.stream.engine import Derived, LoadedRule, StreamEngine
from iplus.engines.stream.evaluators import Signal
from iplus.engines.stream.model import parse_rules
from iplus.infra.telemetry import Message

ORG = "org-a"
S = 1_000_000  # microseconds per second


def engine_with(yaml_text: str, engine: StreamEngine | None = None) -> StreamEngine:
    """An engine running the rules of ``yaml_text`` for ORG (rule ids = rule names)."""
    engine = engine or StreamEngine()
    failed = engine.load(ORG, [LoadedRule(r.name, 1, r) for r in parse_rules(yaml_text)])
    assert not failed, failed
    return engine


def feed(
    engine: StreamEngine,
    device: str,
    readings: Sequence[tuple[str, float, float]],
    derived: list[Derived] | None = None,
) -> list[Signal]:
    """One message per (key, seconds, value); the signals produced."""
    messages = [Message(ORG, "room", device, None, [(k, int(t * S), v)]) for k, t, v in readings]
    return engine.process(messages, derived)


class ZScore:
    """A z-score detector (Welford's running mean and variance): score = |x - mean| / std."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def score_one(self, value: float) -> float:
        if self.n < 2:
            return 0.0
        std = math.sqrt(self.m2 / (self.n - 1))
        return abs(value - self.mean) / std if std > 0 else 0.0

    def learn_one(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)


def zscore_factory(org_id: str, model: str) -> ZScore:
    """Detectors for model ``zscore`` only."""
    if model != "zscore":
        raise KeyError(f"unknown model {model!r}")
    return ZScore()
